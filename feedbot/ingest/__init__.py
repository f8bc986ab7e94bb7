"""Ingest: the index folder read, watched and reconciled with the store."""
