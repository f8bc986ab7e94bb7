"""Full-text search: the index of every article's words (see `feedbot.store.search`).

``search_docs`` maps an article to its index row. SQLite: the FTS5 table ``search_fts``
(headline, headings, body), whose rowid is ``docid``; it never tokenizes beyond spaces
(the words come stemmed). PostgreSQL: ``search_docs.vector`` (``tsvector``) with a GIN
index. ``articles_language`` lists the corpus' languages (a query is stemmed in each).
The index starts empty: the daemon fills it at start (`Search.backfill`).
Frozen once released: never edit, add a revision instead.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    vector = [sa.Column("vector", postgresql.TSVECTOR, nullable=False)] if postgres else []
    op.create_table(
        "search_docs",
        sa.Column("docid", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("article_id", sa.Text, sa.ForeignKey("articles.id"), nullable=False, unique=True),
        *vector,
    )
    op.create_index("articles_language", "articles", ["language"])
    if postgres:
        op.create_index("search_docs_vector", "search_docs", ["vector"], postgresql_using="gin")
    else:
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5("
            "headline, headings, body, tokenize = 'unicode61 remove_diacritics 0')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE search_fts")
    op.drop_table("search_docs")
    op.drop_index("articles_language", "articles")
