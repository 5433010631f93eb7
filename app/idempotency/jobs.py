from app.features import Job
from app.idempotency.service import sweep

JOBS = [Job("idempotency_sweep", 3600.0, sweep)]
