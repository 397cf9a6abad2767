"""Redaction quality and speed, before (the pattern-only redactor) and after (patterns + SudachiPy).

Run: .venv/bin/python bench/bench_redaction.py [--repeat N] [--only before|after] [--clock wall|cpu]

Prints, for the labelled corpus (tests/data/redaction_corpus.txt, the tuning part, and
redaction_corpus_heldout.txt, never tuned on):

- precision and recall per kind and overall, for each redactor in the same run;
- the dictionary's load time and the process's resident memory after loading it;
- latency p50 / p99 of one redaction of a 500-character helpdesk note (the live preview's
  budget is p99 <= 50 ms) and of a 20-character line, and the 10 kB worst cases.

Every loop is bounded in count and in wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path

from cti.privacy.redaction import Morphology, Redactor
from cti.privacy.redaction.scoring import LabelledText, parse_corpus, score

DATA = Path(__file__).parents[1] / "tests" / "data"
CORPORA = {"tuning": DATA / "redaction_corpus.txt", "held-out": DATA / "redaction_corpus_heldout.txt"}
KNOWLEDGE = DATA / "knowledge_questions.json"
TIME_BUDGET_S = 10.0
EXTENSIONS = (range(1000, 10000),)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _quality(name: str, samples: list[LabelledText], redactors: dict[str, Redactor]) -> None:
    tallies = {label: score(samples, r.find) for label, r in redactors.items()}
    kinds = [*sorted({k for t in tallies.values() for k in t if k != "all"}), "all"]
    print(f"\n{name}: {len(samples)} samples")
    header = "".join(f" | {label:>6} P   R  (n)" for label in redactors)
    print(f"{'kind':<14}{header}")
    for kind in kinds:
        cells = []
        for label in redactors:
            t = tallies[label].get(kind)
            figures = f"   {t.precision:5.3f} {t.recall:5.3f} ({t.expected:3d})" if t else " " * 22
            cells.append(" |" + figures)
        print(f"{kind:<14}{''.join(cells)}")


def _timed(redact: Callable[[str], object], texts: list[str], repeat: int,
           clock: Callable[[], float]) -> list[float]:
    timings: list[float] = []
    deadline = time.perf_counter() + TIME_BUDGET_S
    for _ in range(repeat):
        for text in texts:
            start = clock()
            redact(text)
            timings.append((clock() - start) * 1000)
        if time.perf_counter() > deadline:
            break
    return sorted(timings)


def _pct(timings: list[float], q: float) -> float:
    return timings[min(len(timings) - 1, int(len(timings) * q))]


def _notes(size: int) -> list[str]:
    """Helpdesk notes of about `size` characters: article prose with corpus samples mixed in."""
    knowledge = json.loads(KNOWLEDGE.read_text(encoding="utf-8"))
    prose = [a["answer"] for a in knowledge["articles"]] + [q["text"] for q in knowledge["queries"]]
    samples = [s.text for s in parse_corpus(CORPORA["tuning"].read_text(encoding="utf-8"))]
    notes, piece, i = [], "", 0
    while len(notes) < 40:
        piece += (prose[i % len(prose)] if i % 2 else samples[i % len(samples)]) + "。"
        i += 1
        if len(piece) >= size:
            notes.append(piece[:size])
            piece = ""
    return notes


def _speed(redactors: dict[str, Redactor], repeat: int, clock: Callable[[], float]) -> None:
    worst = {
        "10 kB of notes": "".join(_notes(500))[:10_000],
        "adversarial runs": "a" * 2000 + "0" * 2000 + "-" * 2000 + "田" * 2000 + "1-" * 1000,
        "田中様 x3333": "田中様" * 3333,
        "北1条西1丁目 x1428": "北1条西1丁目" * 1428,
        "市1- x3333": "市1-" * 3333,
    }
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'latency ms':<22}" + "".join(f" | {label:>6} p50    p99    max" for label in redactors))
    rows = {"500-char note": _notes(500), "20-char line": [t[:20] for t in _notes(500)]}
    rows.update({name: [text] for name, text in worst.items()})
    for name, texts in rows.items():
        cells = []
        for redactor in redactors.values():
            runs = repeat if len(texts[0]) <= 500 else max(3, repeat // 20)
            timings = _timed(redactor.redact, texts, runs, clock)
            cells.append(f" |   {_pct(timings, 0.5):6.2f} {_pct(timings, 0.99):6.2f} {timings[-1]:6.2f}")
        print(f"{name:<22}{''.join(cells)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs over each set of texts (default 20)")
    parser.add_argument("--only", choices=["before", "after"], help="measure one redactor only")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time, or this thread's CPU time (steadier on a busy machine)")
    args = parser.parse_args()
    redactors: dict[str, Redactor] = {}
    if args.only != "after":
        redactors["before"] = Redactor(EXTENSIONS, legacy=True)
    if args.only != "before":
        rss = _rss_mb()
        start = time.perf_counter()
        morphology = Morphology()
        loaded = time.perf_counter() - start
        redactors["after"] = Redactor(EXTENSIONS, morphology=morphology)
        redactors["after"].redact("起動確認")  # first use maps the dictionary in
        print(f"dictionary: SudachiPy core, loaded in {loaded * 1000:.0f} ms; "
              f"resident memory {rss:.0f} MB before, {_rss_mb():.0f} MB after")
    for name, path in CORPORA.items():
        _quality(name, parse_corpus(path.read_text(encoding="utf-8")), redactors)
    _speed(redactors, args.repeat, time.thread_time if args.clock == "cpu" else time.perf_counter)


if __name__ == "__main__":
    main()
