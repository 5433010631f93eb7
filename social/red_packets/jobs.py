from app.features import Job
from social.red_packets.service import refund_expired

# One worker of the deployment runs it per slot (app/scheduler); ``refund_one``'s conditional
# update still refunds each item once.
JOBS = [Job("red_packet_refunds", 60.0, refund_expired)]
