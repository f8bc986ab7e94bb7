"""PostgreSQL keeps the marked words apart from the indexed ones (see `feedbot.store.search`).

``search_docs.fields`` (``tsvector``, not indexed) holds the marked copies of each
article's headline and heading words (`feedbot.search.words.FIELD_MARKS`), which
``vector`` held until now: a search asks them only of its candidates, by key, instead of
walking GIN once per term and field, and the index no longer holds them. The index
starts empty, like 0008's on SQLite: the daemon fills it at start. SQLite: nothing to do.
Frozen once released: never edit, add a revision instead.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DELETE FROM search_docs")  # refilled by the daemon's first scan
    op.add_column("search_docs", sa.Column("fields", postgresql.TSVECTOR, nullable=False))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DELETE FROM search_docs")
    op.drop_column("search_docs", "fields")
