"""receiver: Flux's Receiver, webhooks in, the status API and metrics out (FastAPI).

webhooks.py   each provider's signature check, the webhook path, what a registry's push
              notification names (repositories, tags) (pure)
reconcile.py  a Receiver's token, webhook path in status, the objects a webhook wakes
page.py       the status page at ``/``: objects by pipeline, the last traces' timelines
app.py        the FastAPI app
"""
