"""receiver: Flux's Receiver, webhooks in, the status API and metrics out (FastAPI); Flux's
Alerts and Providers, the stages' events out.

webhooks.py   each provider's signature check, the webhook path, what a registry's push
              notification names (repositories, tags) (pure)
reconcile.py  a Receiver's token, webhook path in status, the objects a webhook wakes
page.py       the status page at ``/``: objects by pipeline, the last traces' timelines
alerts.py     which Alerts an event goes to, and what it says there (pure)
providers.py  each Provider type's payload and requests; a Provider read with its Secrets
notifier.py   the notices stream read by a consumer group, delivered to the Alerts' Providers
app.py        the FastAPI app
"""
