from app.features import Job
from games.rights.service import expire_due

# One worker of the deployment runs it per slot (app/scheduler); each voucher expires
# once (a conditional update, FOR UPDATE SKIP LOCKED).
JOBS = [Job("voucher_expiry", 300.0, expire_due)]
