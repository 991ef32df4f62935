"""The Celery task of this service: see shared.bus.register and shared.runtime.handle."""

from services.applier.reconcile import STAGE
from services.stages import worker_context
from shared.bus import register

handle = register(STAGE, worker_context)
