"""Reading a queue_log like ``tail -F``, with a state file so a restart neither loses nor repeats lines.

The state file (JSON, replaced atomically) holds the file's inode, the byte offset after the
last line whose events the broker acknowledged, and the mapper's member state at that point.
It is written only after a batch is acknowledged, so a crash at any moment re-reads at most
the last batch; its events carry the same ids and the workers drop the copies.

Rotation is noticed two ways: the path names another inode (logrotate's ``create``) — the old
file is read to its end first, since Asterisk may have written to it after the rename — or the
file became shorter than the offset (``copytruncate``) — reading starts again at 0. A restart
after a rotation finds the old file by its inode among its siblings (``queue_log.1``,
``queue_log-20260302``) and finishes it before the new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import orjson

from ccpulse.connectors import Rejected
from ccpulse.connectors.asterisk import QueueLogMapper, parse_line
from ccpulse.connectors.sink import Sink

__all__ = ["FollowSummary", "QueueLogFollower"]

log = logging.getLogger("ccpulse.connect")

#: Lines per acknowledged batch (and state-file write).
BATCH_LINES = 500
READ_BYTES = 1 << 20
#: A file whose latest line is this recent is live: wrap-ups then end by the clock.
LIVE_SECONDS = 300


@dataclass
class FollowSummary:
    lines: int = 0
    rotations: int = 0
    seconds: float = 0.0

    def line(self, sink: Sink, mapper: QueueLogMapper) -> str:
        rejected = sum(sink.rejected.values())
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(sink.rejected.items()))
        rna = sum(mapper.ring_no_answer.values())
        return (f"ccpulse connect asterisk: {self.lines:,} lines, {sink.sent:,} events sent, {rejected:,} dead-lettered"
                f"{f' ({reasons})' if reasons else ''}, {rna:,} ring-no-answer, {mapper.ignored:,} ignored, "
                f"{self.rotations} rotation(s) in {self.seconds:.1f} s")


class QueueLogFollower:
    """Maps a queue_log file (once, or following it) into ``sink``."""

    def __init__(self, path: Path, state_path: Path, mapper: QueueLogMapper, sink: Sink, *, follow: bool = False,
                 from_start: bool = False, zone: ZoneInfo | None = None, poll_seconds: float = 0.25,
                 progress: Callable[[FollowSummary], None] | None = None) -> None:
        self.path, self.state_path = path, state_path
        self.mapper, self.sink = mapper, sink
        self.follow, self.from_start = follow, from_start
        self.zone = zone or ZoneInfo("UTC")
        self.poll = poll_seconds
        self.progress = progress
        self.summary = FollowSummary()
        self._file: BinaryIO | None = None
        self._inode: int | None = None
        self._offset = 0
        self._last_at = 0.0  # the latest line time seen
        self._started = self._progress_at = time.monotonic()
        self._progress_lines = -1

    # ---- state file ----------------------------------------------------------------------------
    def _load(self) -> dict[str, Any] | None:
        try:
            return orjson.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise OSError(f"cannot read the state file {self.state_path} ({exc}); delete it to start again") from None

    def _save(self) -> None:
        state = {"path": str(self.path), "inode": self._inode, "offset": self._offset, "mapper": self.mapper.state()}
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(state))
        os.replace(tmp, self.state_path)

    # ---- files ---------------------------------------------------------------------------------
    def _open(self, path: Path, offset: int) -> None:
        if self._file is not None:
            self._file.close()
        self._file = open(path, "rb")
        self._inode = os.fstat(self._file.fileno()).st_ino
        self._offset = offset
        self._file.seek(offset)

    def _rotated_sibling(self, inode: int) -> Path | None:
        for candidate in sorted(self.path.parent.glob(self.path.name + "*")):
            try:
                if candidate != self.path and candidate.stat().st_ino == inode:
                    return candidate
            except OSError:
                continue
        return None

    def _start(self) -> Path | None:
        """Open where the previous run stopped; returns an old (rotated) file to finish first, if any."""
        state = self._load()
        if state is not None:
            self.mapper.restore(state.get("mapper", {}))
            inode, offset = state.get("inode"), int(state.get("offset", 0))
            try:
                current = self.path.stat()
            except FileNotFoundError:
                current = None
            if current is not None and current.st_ino == inode:
                self._open(self.path, offset if current.st_size >= offset else 0)
                return None
            old = self._rotated_sibling(inode) if inode is not None else None
            if old is not None:
                self._open(old, offset)
                return old
            log.warning("the file read last time (inode %s) is gone: reading %s from its start", inode, self.path)
            self._open(self.path, 0)
            return None
        self._open(self.path, 0)
        if self.follow and not self.from_start:
            self._offset = self._file.seek(0, os.SEEK_END)  # type: ignore[union-attr]
        return None

    # ---- reading -------------------------------------------------------------------------------
    async def _line(self, raw: bytes, offset: int) -> None:
        self.summary.lines += 1
        try:
            record = parse_line(raw.decode("utf-8", "replace"), self.zone)
            if record is None:
                return
            self._last_at = max(self._last_at, record.at)
            due = self.mapper.due(record.at)  # wrap-ups that ended before this line
            if due:
                await self.sink.emit(due, b"(wrap-up end)", offset)
            events = self.mapper.map(record)
        except Rejected as exc:
            await self.sink.dead_letter(raw, exc.reason, exc.message, offset)
            return
        if events:
            await self.sink.emit(events, raw, offset)

    async def _drain(self, final: bool) -> int:
        """Map every complete line from the offset on (and a last unterminated one when ``final``)."""
        assert self._file is not None
        count = 0
        buffer = b""
        start = self._offset
        while True:
            chunk = self._file.read(READ_BYTES)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                await self._line(line, start)
                start += len(line) + 1
                count += 1
                if count % BATCH_LINES == 0:
                    await self._commit(start)
        if final and buffer:
            await self._line(buffer, start)
            start += len(buffer)
            count += 1
        else:
            self._file.seek(start)  # an unterminated line is read again once Asterisk finishes it
        await self._commit(start)
        return count

    async def _commit(self, offset: int) -> None:
        await self.sink.flush()
        self._offset = offset
        self._save()
        now = time.monotonic()
        if self.progress is not None and now - self._progress_at >= 5 and self.summary.lines != self._progress_lines:
            self._progress_at, self._progress_lines = now, self.summary.lines
            self.summary.seconds = now - self._started
            self.progress(self.summary)

    def _replaced(self) -> bool:
        try:
            return self.path.stat().st_ino != self._inode
        except FileNotFoundError:
            return False  # between logrotate's rename and create: keep reading the old file

    async def run(self) -> FollowSummary:
        started = self._started = self._progress_at = time.monotonic()
        try:
            old = self._start()
            if old is not None:  # rotated while we were stopped: finish the old file first
                await self._drain(final=False)
                self.summary.rotations += 1
                self._open(self.path, 0)
            while True:
                read = await self._drain(final=not self.follow)
                if not self.follow:
                    break
                if self.path.exists() and self.path.stat().st_size < self._offset and not self._replaced():
                    log.info("%s was truncated: reading it from its start", self.path)
                    self.summary.rotations += 1
                    self._open(self.path, 0)
                    continue
                if self._replaced() and self.path.exists():
                    await self._drain(final=True)  # the last lines written before the rename
                    self.summary.rotations += 1
                    self._open(self.path, 0)
                    continue
                # Wrap-ups that ended with no line after them, by the clock — only when the file is live
                # (a history being read catches up by its own lines, whose order the clock must not beat).
                wall = time.time()
                due = self.mapper.due(wall) if wall - self._last_at < LIVE_SECONDS else []
                if due:
                    await self.sink.emit(due, b"(wrap-up end)")
                    await self._commit(self._offset)
                if not read:
                    await asyncio.sleep(self.poll)
            due = self.mapper.due(float("inf"))
            if due:
                await self.sink.emit(due, b"(wrap-up end)")
                await self._commit(self._offset)
        finally:
            if self._file is not None:
                self._file.close()
            self.summary.seconds = time.monotonic() - started
        return self.summary
