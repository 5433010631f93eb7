from app.features import Job
from games.points.exchange import deliver_due
from games.points.service import expire_due

JOBS = [Job("points_expiry", 3600.0, expire_due), Job("points_exchange_retry", 60.0, deliver_due)]
