from app.features import Job
from social.red_packets.service import refund_expired

# Every worker runs it; the conditional update in ``refund_one`` decides who refunds.
JOBS = [Job("red_packet_refunds", 60.0, refund_expired)]
