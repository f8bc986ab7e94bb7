"""64-bit file sizes, mtimes (nanoseconds since 1970 pass 2**31 in 1970) and delivery ids.

SQLite's INTEGER is 64-bit already: nothing to do there. PostgreSQL's ``integer`` is
32-bit: the columns become ``bigint``, and so does the sequence behind ``deliveries.id``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in (("articles", "size"), ("articles", "mtime_ns"), ("deliveries", "id")):
        op.alter_column(table, column, type_=sa.BigInteger, existing_type=sa.Integer)
    op.execute("ALTER SEQUENCE deliveries_id_seq AS bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER SEQUENCE deliveries_id_seq AS integer")
    for table, column in (("articles", "size"), ("articles", "mtime_ns"), ("deliveries", "id")):
        op.alter_column(table, column, type_=sa.Integer, existing_type=sa.BigInteger)
