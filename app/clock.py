"""The one clock every time rule reads.

Business time (energy ripening, 24 h refunds, quiz days, leaderboard periods) comes
from ``Clock.now()``. In dev and test the clock carries an offset that
``POST /v1/dev/clock`` moves forward; with several workers the offset is shared through
Redis and refreshed per request. Token and one-time-code expiry use real time.

``FrozenClock`` stands still until moved: tests use it (``QUANZI_CLOCK_START`` gives
dev and test servers one), so business time is the instant a test chose, at any hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """Wall-clock time plus an offset that only moves forward."""

    def __init__(self, tz: str = "Asia/Shanghai", offset_s: float = 0.0) -> None:
        self.tz = ZoneInfo(tz)
        self.offset_s = offset_s

    def now(self) -> datetime:
        """The current business time, timezone-aware UTC."""
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def today(self) -> date:
        """Today's business day in the bank's time zone."""
        return self.now().astimezone(self.tz).date()

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.tz)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset_s += seconds

    def set_offset(self, offset_s: float) -> None:
        # Another worker moved it; never go back.
        self.offset_s = max(self.offset_s, offset_s)


class FrozenClock(Clock):
    """A clock that stands still at ``at`` until told to move (tests, ``QUANZI_CLOCK_START``)."""

    def __init__(self, at: datetime, tz: str = "Asia/Shanghai") -> None:
        super().__init__(tz)
        self._at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)

    def now(self) -> datetime:
        return self._at + timedelta(seconds=self.offset_s)


def utcnow() -> datetime:
    """Real time, for token and code expiry only."""
    return datetime.now(UTC)
