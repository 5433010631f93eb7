"""The following tab in one statement: ``posts_newest_by``.

The tab read the followed authors (one statement), then rendered their ids into the
page's SQL as a constant array so that PostgreSQL planned the page for that list (a
bound array soon ran on a generic plan comparing each row with every id). The function
takes the list from a subquery in the page's own statement and plans the walk for it at
each call (``EXECUTE … USING`` is planned with its values): a round trip and the
rendering of ~500 literals less per page.

Revision ID: 2053
Revises: 2052
Create Date: 2026-12-08 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "2053"
down_revision: str | Sequence[str] | None = "2052"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEWEST_BY = """
CREATE FUNCTION posts_newest_by(
    p_authors text[], p_before text, p_as_of timestamptz, p_limit integer
) RETURNS text[] LANGUAGE plpgsql STABLE AS $$
DECLARE
    found text[];
BEGIN
    -- The ids of the newest published posts by these authors, before ``p_before`` and
    -- created by ``p_as_of`` (either may be null), newest first. Planned at each call for
    -- this list: a backward walk of the ids that keeps the listed authors' posts.
    EXECUTE 'SELECT array_agg(id ORDER BY id DESC) FROM ('
        ' SELECT p.id FROM posts p'
        ' WHERE p.status = ''published'' AND p.author_id = ANY($1)'
        '   AND ($2::text IS NULL OR p.id < $2) AND ($3::timestamptz IS NULL OR p.created_at <= $3)'
        ' ORDER BY p.id DESC LIMIT $4) newest'
    INTO found USING p_authors, p_before, p_as_of, p_limit;
    RETURN coalesce(found, '{}');
END $$
"""


def upgrade() -> None:
    op.execute(_NEWEST_BY)


def downgrade() -> None:
    op.execute("DROP FUNCTION posts_newest_by(text[], text, timestamptz, integer)")
