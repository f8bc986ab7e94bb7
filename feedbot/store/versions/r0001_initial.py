"""The first schema: articles, chats, deliveries, state — as feedbot 0.1 created it.

Revisions are written by hand and frozen: they spell out their tables instead of
importing `feedbot.store.schema`, which moves on.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TIME = sa.String(40)  # `UtcDateTime`: UTC ISO 8601 text


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("mtime_ns", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("date", TIME, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("headline", sa.Text, nullable=False),
        sa.Column("language", sa.Text, nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("published", TIME, nullable=False),
        sa.Column("updated", TIME, nullable=False),
        sa.Column("removed_at", TIME),
        sa.Column("broadcast", sa.Boolean, nullable=False),
    )
    op.create_index("articles_order", "articles", ["removed_at", "date", "seq", "id"])
    op.create_table(
        "chats",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("subscribed", sa.Boolean, nullable=False),
        sa.Column("subscribed_at", TIME),
        sa.Column("unsubscribed_at", TIME),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.Text, sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("chat", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("message_ids", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("sent_at", TIME),
        sa.UniqueConstraint("article_id", "chat"),
    )
    op.create_index("deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "state",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    # Read by feedbot releases before Alembic: kept at the number of revisions applied, so
    # that they refuse a database this one has moved on.
    op.create_table("schema_version", sa.Column("version", sa.Integer, nullable=False))


def downgrade() -> None:
    for table in ("schema_version", "state", "deliveries", "chats", "articles"):
        op.drop_table(table)
