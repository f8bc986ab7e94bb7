"""Getting posts out: the ledgers' drains, rate limits, digests, plans."""
