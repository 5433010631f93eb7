"""At start-up: rebuild every live campaign's Redis counters from PostgreSQL.

A worker that died between its Redis hold and its commit left Redis counting a hold
that PostgreSQL never made (a budget refused early); an empty Redis (``memory://``, a
restart without persistence) knows nothing. Either way PostgreSQL is the record, and
the rebuild (``service.reconcile_all``) is safe to run on several workers at once: each
campaign's state is swapped in one MULTI.
"""

from __future__ import annotations

import structlog

from app.runtime import Runtime
from games.campaigns import service as campaigns

log = structlog.get_logger()


async def on_startup(rt: Runtime) -> None:
    count = await campaigns.reconcile_all(rt)
    if count:
        log.info("campaigns_reconciled", campaigns=count)
