"""`python -m parity [check ...]`: run the parity checks against real ttnn and print a summary table.

Exit status 1 when any check found a mismatch. `-v` lists every mismatch (default: the first 10 per check).
"""

from __future__ import annotations

import argparse
import sys
import time
from importlib import metadata

from . import api_check, coverage_check, errors_check, formats_check, golden_check, real
from .result import CheckResult

CHECKS = {
    "formats": formats_check.run,
    "errors": errors_check.run,
    "goldens": golden_check.run,
    "api": api_check.run,
    "coverage": coverage_check.run,
}


def _table(results: list[tuple[CheckResult, float]]) -> str:
    rows = [("check", "cases", "mismatches", "seconds")]
    rows += [(r.name, str(r.cases), str(len(r.mismatches)), f"{t:.1f}") for r, t in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"
    out = [line]
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        out.append("| " + " | ".join(cells) + " |")
        if i == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m parity", description=__doc__)
    parser.add_argument("checks", nargs="*", choices=[*CHECKS, []], help="checks to run (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every mismatch")
    args = parser.parse_args(argv)
    sim = real.sim()
    ttnn = real.load()
    print(f"real ttnn {metadata.version('ttnn')} from {ttnn.__file__}")
    results = []
    for name in args.checks or list(CHECKS):
        start = time.perf_counter()
        result = CHECKS[name](ttnn, sim)
        results.append((result, time.perf_counter() - start))
        shown = result.mismatches if args.verbose else result.mismatches[:10]
        for m in shown:
            print(f"MISMATCH {result.name}: {m}")
        if len(shown) < len(result.mismatches):
            print(
                f"... {len(result.mismatches) - len(shown)} more mismatches in {result.name} (-v lists all)"
            )
        for note in result.notes:
            print(f"NOTE {result.name}: {note}")
    print(_table(results))
    failed = sum(1 for r, _ in results if r.mismatches)
    print(f"parity: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
