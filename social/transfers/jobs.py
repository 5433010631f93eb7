from app.features import Job
from social.transfers.service import refund_expired

# One worker of the deployment runs it per slot (app/scheduler); ``refund_one``'s conditional
# update still refunds each item once.
JOBS = [Job("transfer_refunds", 60.0, refund_expired)]
