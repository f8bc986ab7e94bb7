"""Subscriptions: one row per subscribed chat or forum topic, with its own settings; a
delivery names the topic it goes to and whether it is a post or a digest.

Every chat subscribed at the upgrade gets a subscription for the whole chat (thread 0)
in its stored language, so nothing changes for it. ``deliveries`` gains ``thread_id``,
``kind`` and ``payload``, and its uniqueness becomes (article, chat, thread, kind). On
PostgreSQL that is ALTER TABLE; SQLite cannot drop a constraint, so the table is
rebuilt with every row and id kept.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.String(40)  # `UtcDateTime`: UTC ISO 8601 text
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("chat", sa.Text, primary_key=True),
        sa.Column("thread_id", BIGINT, primary_key=True),
        sa.Column("language", sa.Text),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("digest", sa.Text),
        sa.Column("timezone", sa.Text),
        sa.Column("quiet", sa.Text),
        sa.Column("quiet_action", sa.Text, nullable=False),
        sa.Column("terms", sa.Text, nullable=False),
        sa.Column("has_terms", sa.Boolean, nullable=False),
        sa.Column("languages", sa.Text, nullable=False),
        sa.Column("style", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("next_digest_at", TIME),
        sa.Column("last_digest_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("subscriptions_digest_due", "subscriptions", ["mode", "next_digest_at"])
    op.execute(
        "INSERT INTO subscriptions (chat, thread_id, language, mode, quiet_action, terms, "
        "has_terms, languages, style, version, created_at) "
        "SELECT id, 0, language, 'instant', 'silent', '[]', false, '[]', 'full', 1, "
        "COALESCE(subscribed_at, '1970-01-01T00:00:00.000000+00:00') "
        "FROM chats WHERE subscribed"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "deliveries", sa.Column("thread_id", BIGINT, nullable=False, server_default="0")
        )
        op.add_column(
            "deliveries", sa.Column("kind", sa.Text, nullable=False, server_default="post")
        )
        op.add_column("deliveries", sa.Column("payload", sa.Text))
        op.drop_constraint("deliveries_article_id_chat_key", "deliveries", type_="unique")
        op.create_unique_constraint(
            "deliveries_once", "deliveries", ["article_id", "chat", "thread_id", "kind"]
        )
        return
    op.create_table(
        "deliveries_new",
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
        sa.Column("thread_id", sa.Integer, nullable=False, server_default="0"),
        sa.Column("kind", sa.Text, nullable=False, server_default="post"),
        sa.Column("payload", sa.Text),
        sa.UniqueConstraint("article_id", "chat", "thread_id", "kind", name="deliveries_once"),
    )
    op.execute(
        "INSERT INTO deliveries_new (id, article_id, chat, status, attempts, next_attempt_at, "
        "message_ids, error, created_at, sent_at) "
        "SELECT id, article_id, chat, status, attempts, next_attempt_at, message_ids, error, "
        "created_at, sent_at FROM deliveries"
    )
    op.drop_index("deliveries_due", "deliveries")
    op.drop_table("deliveries")
    op.rename_table("deliveries_new", "deliveries")
    op.create_index("deliveries_due", "deliveries", ["status", "next_attempt_at"])


def downgrade() -> None:
    raise NotImplementedError("feedbot migrates forward only")
