"""The JSON-building SQL helpers are STABLE, so PostgreSQL inlines them.

``qz_isoformat``, ``qz_json_time``, ``transfer_public`` and ``transfer_body`` were declared
IMMUTABLE, but their bodies call STABLE functions (``to_char`` on a timestamp,
``json_build_object``): PostgreSQL does not inline a function whose body is more mutable
than it is declared, so every call ran as a separate SQL function, parsed and planned
again in each transaction. Measured on the transfers bench (``track_functions = all``):
``transfer_public`` 0.52 ms a call and ``transfer_body`` 0.28 ms, mostly three and one
``qz_json_time``/``qz_isoformat`` calls at 0.08 ms each — about 0.8 ms of a transfer
request's 2.5 ms of database time. Declared STABLE (what they are: none is used by an
index), they are inlined into the calling function's expression, planned once per
connection.

Revision ID: 2057
Revises: 2056
Create Date: 2026-12-08 03:35:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2057"
down_revision: str | Sequence[str] | None = "2056"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTIONS = [
    "qz_isoformat(timestamptz)",
    "qz_json_time(timestamptz)",
    "transfer_public(transfers)",
    "transfer_body(transfers, text)",
]


def upgrade() -> None:
    for signature in _FUNCTIONS:
        op.execute(f"ALTER FUNCTION {signature} STABLE")


def downgrade() -> None:
    for signature in _FUNCTIONS:
        op.execute(f"ALTER FUNCTION {signature} IMMUTABLE")
