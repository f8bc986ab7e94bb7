"""The FTS5 table stores the words exactly as `feedbot.search.words` made them.

Revision 0007's ``unicode61`` tokenizer folded and split them again by SQLite's own
Unicode tables, which are older than Python's and fold differently: a word Python kept
whole ("ᦵᦶᦷ", New Tai Lue letters that SQLite still reads as marks) was no word at all
to FTS5, and a capital folding left was lowercased on SQLite alone, so the two engines
found different articles for one query. The ``ascii`` tokenizer splits only at ASCII
punctuation and spaces, which the words never hold. SQLite only: the table is made anew
and empty, with ``search_docs``, and the daemon refills both at start (`backfill`).
Frozen once released: never edit, add a revision instead.
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _remake(tokenizer: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        return
    op.execute("DROP TABLE search_fts")
    op.execute("DELETE FROM search_docs")
    op.execute(
        "CREATE VIRTUAL TABLE search_fts USING fts5("
        f"headline, headings, body, tokenize = '{tokenizer}')"
    )


def upgrade() -> None:
    _remake("ascii")


def downgrade() -> None:
    _remake("unicode61 remove_diacritics 0")
