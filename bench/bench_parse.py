"""Parse + summarise throughput on generated ~3.5 KB articles, one core.

Counts everything `feedbot.articles.parse.parse` does for a file's bytes: decoding,
block classification, language detection and the section summaries. Reading
files is not included (the corpus is generated in memory first).
"""

from __future__ import annotations

import statistics

from bench.common import Figure, best_of
from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse

GOAL = 2000.0  # articles per second on one core


def run(quick: bool) -> list[Figure]:
    n = 200 if quick else 2000
    corpus = list(generate(n, seed=0))
    mean_kb = statistics.mean(len(data) for _, data in corpus) / 1024

    def parse_all() -> None:
        for name, data in corpus:
            parse(name, data)

    parse_all()  # warm up: imports, regex compilation, caches
    seconds = best_of(parse_all, repeat=3 if quick else 5)
    rate = n / seconds
    return [
        Figure(
            name="parse + summarise",
            value=rate,
            unit="articles/s",
            goal=f">= {GOAL:,.0f}",
            ok=rate >= GOAL,
            detail=f"{n} generated articles, mean {mean_kb:.2f} KiB, best of runs, one core",
        )
    ]
