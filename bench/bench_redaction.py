"""Redaction speed on 10 kB texts.

Run: .venv/bin/python bench/bench_redaction.py [--repeat N]

Prints, for each kind of text, its size, the number of findings and the
median / 95th percentile / worst time of `Redactor.redact`.  Every loop is
bounded in count and in wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from cti.privacy.redaction import Redactor

DATA = Path(__file__).parents[1] / "tests" / "data"
SAMPLES = DATA / "redaction_samples.json"
KNOWLEDGE = DATA / "knowledge_questions.json"
TARGET_CHARS = 10_000
TIME_BUDGET_S = 10.0


def _fill(pieces: list[str]) -> str:
    """Repeat the pieces, separated by a Japanese full stop, to about TARGET_CHARS."""
    out: list[str] = []
    size = 0
    while size < TARGET_CHARS:
        for piece in pieces:
            out.append(piece)
            size += len(piece) + 1
            if size >= TARGET_CHARS:
                break
    return "。".join(out)[:TARGET_CHARS]


def texts() -> dict[str, str]:
    samples = json.loads(SAMPLES.read_text(encoding="utf-8"))["samples"]
    with_pii = [s["text"] for s in samples if s["expect"]]
    without = [s["text"] for s in samples if not s["expect"]]
    knowledge = json.loads(KNOWLEDGE.read_text(encoding="utf-8"))
    prose = [a["answer"] for a in knowledge["articles"]] + [q["text"] for q in knowledge["queries"]]
    # Helpdesk notes: knowledge-base prose with one sample holding personal data every ~4 pieces.
    notes = [
        piece
        for i, text in enumerate(prose)
        for piece in (text, with_pii[i % len(with_pii)])[: 1 + (i % 4 == 0)]
    ]
    return {
        "helpdesk notes": _fill(notes),
        "samples with personal data": _fill(with_pii),
        "near misses only": _fill(without),
        "plain Japanese prose": _fill(
            ["分離環境でファイルを無害化したあと、ポータルから申請書をダウンロードできない件について"]
        ),
        "adversarial runs": ("a" * 2000 + "0" * 2000 + "-" * 2000 + "田" * 2000 + "1-" * 1000),
        "adversarial: 0 0 0 ...": "0 " * 5000,
        "adversarial: (0)(0)...": "(0)" * 3333,
        "adversarial: 市1-市1-...": "市1-" * 3333,
        "adversarial: a@a@...": "a@" * 5000,
        "adversarial: 田中様 x3333": "田中様" * 3333,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="runs per text (default 200)")
    args = parser.parse_args()
    redactor = Redactor(internal_extensions=(range(1000, 10000),))
    print(f"{'text':<28} {'chars':>6} {'found':>5} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, text in texts().items():
        found = len(redactor.redact(text).found)  # warm-up, and the count to print
        timings: list[float] = []
        deadline = time.perf_counter() + TIME_BUDGET_S
        for _ in range(args.repeat):
            start = time.perf_counter()
            redactor.redact(text)
            timings.append((time.perf_counter() - start) * 1000)
            if time.perf_counter() > deadline:
                break
        timings.sort()
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        print(
            f"{name:<28} {len(text):>6} {found:>5} {statistics.median(timings):>10.3f}"
            f" {p95:>8.3f} {timings[-1]:>8.3f}"
        )


if __name__ == "__main__":
    main()
