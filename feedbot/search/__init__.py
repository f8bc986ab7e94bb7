"""Full-text search, the pure part: the words an article is found by, the query language
people type, and the snippets that show why an article matched.

The database engines (SQLite FTS5, PostgreSQL ``tsvector``) never tokenize, fold or stem:
both receive the same words from `feedbot.search.words`, so for one query both find the
same articles. The SQL lives in `feedbot.store.search`.
"""
