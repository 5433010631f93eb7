"""Business time in tests: every runtime and test server starts at an instant the test chose.

The ``rt`` fixture and the servers of ``tests/support/servers.py`` run on a
``FrozenClock`` (``QUANZI_CLOCK_START``): business time stands still until a test moves it
(``rt.advance_clock``, ``POST /v1/dev/clock``), so a test sees the same business day at
any hour of the real one. The default start is mid-morning in the bank's zone, far from
its midnight; a test picks another with ``@pytest.mark.clock_start(instant)``.

Tests of "per business day" rules start at ``BEFORE_BANK_MIDNIGHT`` (15:59 UTC, 23:59 in
Asia/Shanghai) and move one minute: the bank's day turns while the UTC day does not, so
a rule that counted days in UTC (or in the server's zone) fails. Likewise for a year,
``BEFORE_BANK_NEW_YEAR``.
"""

from __future__ import annotations

from datetime import UTC, datetime

# Wednesday 25 November 2026, 10:00 in Asia/Shanghai.
DEFAULT_START = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
# 23:59 in Asia/Shanghai on the same day; one minute later the bank's day turns, UTC's does not.
BEFORE_BANK_MIDNIGHT = datetime(2026, 11, 25, 15, 59, tzinfo=UTC)
# 23:59 on 31 December in Asia/Shanghai: one minute later the bank's year turns, UTC's does not.
BEFORE_BANK_NEW_YEAR = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)
ONE_MINUTE = 60
