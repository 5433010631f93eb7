from app.features import Job
from app.insights.service import compute

# "Nightly": once a day of business time, by one worker of the deployment.
JOBS = [Job("insights_nightly", 86_400.0, compute)]
