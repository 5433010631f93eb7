"""Field types for request bodies shared by every feature."""

from typing import Annotated

from pydantic import Field, StrictInt

# The largest value of a PostgreSQL ``integer`` (seq numbers, counters): a request that
# names a larger one is refused as invalid (422) instead of failing in the database.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# A per-conversation message sequence number (``after_seq``, ``before_seq``, ``seq``).
SeqNumber = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]

# Money in integer fen: strictly an int in JSON (no "100", no 1.0), and positive.
PositiveFen = Annotated[StrictInt, Field(gt=0, le=100_000_000, description="integer fen")]
# Energy in integer grams.
PositiveGrams = Annotated[StrictInt, Field(gt=0, le=10_000_000, description="integer grams")]
