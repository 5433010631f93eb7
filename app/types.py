"""Field types for request bodies shared by every feature."""

from typing import Annotated

from pydantic import Field, StrictInt

# Money in integer fen: strictly an int in JSON (no "100", no 1.0), and positive.
PositiveFen = Annotated[StrictInt, Field(gt=0, le=100_000_000, description="integer fen")]
# Energy in integer grams.
PositiveGrams = Annotated[StrictInt, Field(gt=0, le=10_000_000, description="integer grams")]
