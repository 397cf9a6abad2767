"""An append-only, fsync'd journal of call events on local disk.

Every call event is written here before anything else happens to it, so a database outage (or a
crash) loses nothing: the writer applies the journal to the database in order and records how far
it got in a small sidecar file. Blocking file I/O; callers run it in a thread.

Format: one JSON object per line. The sidecar ``<name>.applied`` holds the byte offset up to
which every line is known to be in the database. When everything is applied and the file has
grown past ``compact_bytes``, both are reset. Records the database can never accept are kept in
``<name>.rejected`` (one JSON object per line: the reason and the record).

The journal holds call timelines (masked caller numbers, caller hashes): its folder is created
0700 and its files 0600, whatever the umask.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


class JournalFull(RuntimeError):
    """The journal reached its size bound: the database has been unreachable for very long."""


@dataclass(frozen=True, slots=True)
class Entry:
    end_offset: int  # byte offset just after this line
    record: dict[str, Any]


class Journal:
    def __init__(
        self, path: Path, *, max_bytes: int = 256 * 1024**2, compact_bytes: int = 4 * 1024**2
    ) -> None:
        self._path = path
        self._applied_path = path.with_name(path.name + ".applied")
        self.rejected_path = path.with_name(path.name + ".rejected")
        self._max_bytes = max_bytes
        self._compact_bytes = compact_bytes
        self._lock = threading.Lock()
        private_dir(path.parent)
        _drop_torn_tail(path)
        self._file = open_private(path, "ab")
        self._size = self._file.tell()
        self._applied = min(self._read_applied(), self._size)
        self.rejected_count = _count_lines(self.rejected_path)

    @property
    def size(self) -> int:
        return self._size

    @property
    def applied_offset(self) -> int:
        return self._applied

    @property
    def backlog_bytes(self) -> int:
        return self._size - self._applied

    def append(self, record: dict[str, Any]) -> int:
        """Write one record durably; returns the offset just after it."""
        offset = self.append_many([record])[0]
        if isinstance(offset, JournalFull):
            raise offset
        return offset

    def append_many(self, records: list[dict[str, Any]]) -> list[int | JournalFull]:
        """Write records in order with one write and one fsync (group commit). Per record: the
        offset just after it, or ``JournalFull`` from the first record that does not fit on (none
        of those is written, so the order on disk never skips one; the ones before are)."""
        lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                 for r in records]
        with self._lock:
            out: list[int | JournalFull] = []
            size = self._size
            kept: list[bytes] = []
            for line in lines:
                if (out and isinstance(out[-1], JournalFull)) or size + len(line) > self._max_bytes:
                    out.append(JournalFull(
                        f"journal {self._path} holds {size} bytes (bound {self._max_bytes})"))
                    continue
                size += len(line)
                kept.append(line)
                out.append(size)
            if kept:
                self._file.write(b"".join(kept))
                self._file.flush()
                os.fsync(self._file.fileno())
                self._size = size
            return out

    def pending(self, limit: int = 500) -> list[Entry]:
        """Records not yet applied, oldest first. A torn last line (crash mid-write) is skipped."""
        with self._lock:
            start, end = self._applied, self._size
        entries: list[Entry] = []
        with open(self._path, "rb") as reader:
            reader.seek(start)
            offset = start
            while offset < end and len(entries) < limit:
                line = reader.readline()
                if not line.endswith(b"\n"):
                    break
                offset += len(line)
                try:
                    entries.append(Entry(offset, json.loads(line)))
                except json.JSONDecodeError:
                    entries.append(Entry(offset, {"_corrupt": line.decode(errors="replace")}))
        return entries

    def pending_call_ids(self) -> set[str]:
        """Call ids that still have records waiting to be applied."""
        return {str(e.record["call_id"]) for e in self.pending(limit=sys.maxsize)
                if "call_id" in e.record}

    def mark_applied(self, offset: int) -> None:
        with self._lock:
            if offset <= self._applied:
                return
            self._applied = offset
            tmp = self._applied_path.with_suffix(".tmp")
            with open_private(tmp, "w") as out:
                out.write(str(offset))
            os.replace(tmp, self._applied_path)
            if self._applied == self._size and self._size >= self._compact_bytes:
                self._file.truncate(0)
                self._file.seek(0)
                self._size = self._applied = 0
                with open_private(self._applied_path, "w") as out:
                    out.write("0")

    def set_aside(self, record: dict[str, Any], error: str) -> None:
        """Keep a record the database refuses (with the reason) in ``<name>.rejected``."""
        line = json.dumps({"error": error, "record": record}, ensure_ascii=False) + "\n"
        with self._lock, open_private(self.rejected_path, "a") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())
            self.rejected_count += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _read_applied(self) -> int:
        try:
            return int(self._applied_path.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0


def private_dir(folder: Path) -> None:
    """Create ``folder`` (and its parents) 0700; an existing one loses group/other access."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = folder.stat().st_mode & 0o777
    if mode & 0o077:
        os.chmod(folder, mode & 0o700)


def open_private(path: Path, mode: str) -> IO[Any]:
    """``open(path, mode)``, creating the file 0600 (and tightening an existing one to it)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | (os.O_APPEND if "a" in mode else 0), 0o600)
    if os.fstat(fd).st_mode & 0o077:
        os.fchmod(fd, 0o600)
    if "w" in mode:
        os.ftruncate(fd, 0)
    return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as file:
            return sum(1 for _ in file)
    except FileNotFoundError:
        return 0


def _drop_torn_tail(path: Path) -> None:
    """A crash in the middle of a write leaves a line without its newline: cut it off."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as file:
        data = file.read()
        if data.endswith(b"\n"):
            return
        file.truncate(data.rfind(b"\n") + 1)
