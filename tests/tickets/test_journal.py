"""The on-disk journal: durable appends, ordered replay, torn writes, bound, compaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from cti.tickets.journal import Journal, JournalFull


def test_append_pending_and_mark_applied_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    journal = Journal(path)
    offsets = [journal.append({"n": n, "text": "日本語"}) for n in range(5)]
    assert [e.record["n"] for e in journal.pending()] == [0, 1, 2, 3, 4]
    journal.mark_applied(offsets[1])
    journal.close()
    reopened = Journal(path)
    assert [e.record["n"] for e in reopened.pending()] == [2, 3, 4]
    assert reopened.pending()[0].record["text"] == "日本語"
    reopened.mark_applied(offsets[0])  # going backwards is ignored
    assert reopened.applied_offset == offsets[1]


def test_torn_last_line_is_dropped_on_open(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    journal = Journal(path)
    journal.append({"n": 1})
    journal.close()
    with open(path, "ab") as file:
        file.write(b'{"n": 2, "half')  # the process died here
    reopened = Journal(path)
    reopened.append({"n": 3})
    assert [e.record["n"] for e in reopened.pending()] == [1, 3]


def test_bound_refuses_and_keeps_what_it_has(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "events.jsonl", max_bytes=100)
    journal.append({"n": 1, "pad": "x" * 40})
    with pytest.raises(JournalFull, match="bound 100"):
        journal.append({"n": 2, "pad": "x" * 60})
    assert [e.record["n"] for e in journal.pending()] == [1]


def test_compaction_after_everything_is_applied(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "events.jsonl", compact_bytes=50)
    end = 0
    for n in range(5):
        end = journal.append({"n": n, "pad": "y" * 10})
    journal.mark_applied(end)
    assert journal.size == 0 and journal.applied_offset == 0 and journal.pending() == []
    journal.append({"n": 9})
    assert [e.record["n"] for e in journal.pending()] == [9]
