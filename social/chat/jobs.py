from app.features import Job
from social.chat.partitions import maintain

# Daily: make the coming months' message partitions, drop those past the retention.
JOBS = [Job("chat_message_partitions", 24 * 3600.0, maintain)]
