"""receiver: Flux's Receiver, webhooks in, the status API and metrics out (FastAPI).

webhooks.py   each provider's signature check and the webhook path (pure)
reconcile.py  a Receiver's token, webhook path in status, the objects a webhook wakes
app.py        the FastAPI app
"""
