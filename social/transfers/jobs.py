from app.features import Job
from social.transfers.service import refund_expired

# Every worker runs it; the conditional update in ``refund_one`` decides who refunds.
JOBS = [Job("transfer_refunds", 60.0, refund_expired)]
