"""Field types for request bodies shared by every feature."""

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import AwareDatetime, BeforeValidator, Field, StrictInt

# The largest value of a PostgreSQL ``integer`` (seq numbers, counters): a request that
# names a larger one is refused as invalid (422) instead of failing in the database.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# A per-conversation message sequence number (``after_seq``, ``before_seq``, ``seq``).
SeqNumber = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]

# Money in integer fen: strictly an int in JSON (no "100", no 1.0), and positive.
PositiveFen = Annotated[StrictInt, Field(gt=0, le=100_000_000, description="integer fen")]
# The bank's risk assessment of a customer (适当性): C1 保守型 … C5 进取型
# (``users.risk_profile``; a product of risk level Rm is for Cn with m ≤ n).
RiskProfile = Literal["C1", "C2", "C3", "C4", "C5"]
RISK_PROFILES: tuple[str, ...] = get_args(RiskProfile)
# Energy in integer grams.
PositiveGrams = Annotated[StrictInt, Field(gt=0, le=10_000_000, description="integer grams")]


def _text_time(value: Any) -> Any:
    if isinstance(value, str | datetime):
        return value
    raise ValueError("an RFC 3339 date-time string with an offset")


# An instant in a request body: an RFC 3339 string with an offset, as the OpenAPI document
# says (``format: date-time``) — not a number of seconds, which pydantic would otherwise take.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_text_time)]
