from app.auth.sessions import sweep
from app.features import Job

JOBS = [Job("auth_sessions_sweep", 3600.0, sweep)]
