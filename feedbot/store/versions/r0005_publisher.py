"""The publisher's controls: corrections reach the chats, scheduled publication.

- ``deliveries.rendered``: a digest of the post a delivery's messages show, so a
  correction edits only the messages whose post really changed.
- ``edits``: at most one owed correction per delivery (edit, mark withdrawn, delete),
  upserted by every save, so five saves in a few seconds make one edit.
- ``articles.scheduled``: the article's date is still in the future; it is stored
  but not published until then.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.String(40)  # `UtcDateTime`: UTC ISO 8601 text
BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN on both dialects (SQLite allows it with a constant default): a batch
    # rebuild would copy every row, and fail on old databases' foreign keys.
    op.add_column("deliveries", sa.Column("rendered", sa.Text))
    op.add_column(
        "articles", sa.Column("scheduled", sa.Boolean, nullable=False, server_default=sa.false())
    )
    op.create_table(
        "edits",
        sa.Column("delivery_id", BIGINT, sa.ForeignKey("deliveries.id"), primary_key=True),
        sa.Column("action", sa.Text, nullable=False),  # edit | mark | delete
        sa.Column("status", sa.Text, nullable=False),  # pending | sending | done | failed
        sa.Column("wanted", sa.Integer, nullable=False),  # bumped by every new request
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_index("edits_due", "edits", ["status", "next_attempt_at"])
    op.create_index("articles_scheduled", "articles", ["scheduled", "date"])


def downgrade() -> None:
    op.drop_index("articles_scheduled", "articles")
    op.drop_index("edits_due", "edits")
    op.drop_table("edits")
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("scheduled")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("rendered")
