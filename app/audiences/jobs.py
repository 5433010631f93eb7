from app.audiences.service import rebuild_all
from app.features import Job

# Time alone moves some memberships (weights decay, recency windows slide, tiers follow
# points): every segment is re-evaluated once a day, one query each.
JOBS = [Job("audiences_rebuild", 86_400.0, rebuild_all)]
