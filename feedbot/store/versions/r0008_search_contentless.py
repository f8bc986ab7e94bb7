"""The SQLite search index keeps no copy of the words (see `feedbot.store.search`).

``search_fts`` becomes a contentless FTS5 table (``content=''``) with the ``ascii``
tokenizer: its rows are the words `feedbot.search.words` made, already folded and
stemmed and separated by spaces, which FTS5 only has to split there (any non-ASCII
character is part of a word, as it is of PostgreSQL's). The copy it kept was more than
half of the index's bytes and of its cost on ingest; a row is now deleted by giving its
words again (`feedbot.store.search.unindex` makes them from the article row). The index
starts empty, like 0007's: the daemon fills it at start. PostgreSQL: nothing to do.
Frozen once released: never edit, add a revision instead.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _rebuild(options: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.execute("DROP TABLE search_fts")
    op.execute(f"CREATE VIRTUAL TABLE search_fts USING fts5(headline, headings, body, {options})")
    op.execute("DELETE FROM search_docs")  # refilled by the daemon's first scan


def upgrade() -> None:
    _rebuild("content = '', tokenize = 'ascii'")


def downgrade() -> None:
    _rebuild("tokenize = 'unicode61 remove_diacritics 0'")
