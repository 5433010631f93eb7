from app.features import Job
from games.campaigns.service import expire_holds

# One worker of the deployment runs it per slot (app/scheduler); each hold is given back
# once (a conditional update).
JOBS = [Job("campaign_hold_expiry", 60.0, expire_holds)]
