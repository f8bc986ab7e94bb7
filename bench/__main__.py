"""Run every `bench/bench_*.py` module (or the ones named) and print one table.

Each module has ``run(quick: bool) -> list[Figure]``. ``--quick`` shrinks sizes
for a smoke run; the figures reported in issues come from full runs.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from bench.common import Figure


def _modules(names: list[str]) -> list[str]:
    found = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if not names:
        return found
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in names]
    unknown = [n for n in wanted if n not in found]
    if unknown:
        sys.exit(f"unknown benchmark(s): {', '.join(unknown)}; have: {', '.join(found)}")
    return wanted


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    figures: list[tuple[str, Figure]] = []
    for name in _modules(args.names):
        print(f"# {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        for figure in module.run(quick=args.quick):
            figures.append((name, figure))
        print(f"# {name} done in {time.perf_counter() - start:.1f}s", file=sys.stderr)

    print(
        f"\nfeedbot benchmarks on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}, "
        f"{len(__import__('os').sched_getaffinity(0))} cores"
        f"{' (quick)' if args.quick else ''}\n"
    )
    header = f"{'benchmark':<58} {'value':>12} {'unit':<10} {'goal':<14} ok"
    print(header)
    print("-" * len(header))
    for _, f in figures:
        mark = "" if f.ok is None else ("yes" if f.ok else "NO")
        print(f"{f.name:<58} {f.value:>12,.2f} {f.unit:<10} {f.goal:<14} {mark}")
        if f.detail:
            print(f"    {f.detail}")
    if args.json:
        args.json.write_text(json.dumps([{"module": m, **asdict(f)} for m, f in figures], indent=2))


if __name__ == "__main__":
    main()
