from app.features import Job
from games.campaigns.service import close_finished, expire_holds

# One worker of the deployment runs it per slot (app/scheduler); each hold is given back
# once (a conditional update).
# The close job ends campaigns past their end time and, once their holds are closed (the
# expiry job, listed first, runs before it in a pass), returns their leftover budgets.
JOBS = [Job("campaign_hold_expiry", 60.0, expire_holds), Job("campaign_close", 60.0, close_finished)]
