"""64-bit sequence numbers: a file name may start with a timestamp (``20260301120000_…``).

SQLite's INTEGER is 64-bit already: nothing to do there. PostgreSQL's ``integer`` is
32-bit: ``articles.seq`` becomes ``bigint`` (the ``articles_order`` index is rebuilt by
the ALTER). Frozen once released: never edit, add a revision instead.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("articles", "seq", type_=sa.BigInteger, existing_type=sa.Integer)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("articles", "seq", type_=sa.Integer, existing_type=sa.BigInteger)
