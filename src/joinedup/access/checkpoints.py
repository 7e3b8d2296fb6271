"""Checkpoints: the audit chain's head, anchored outside the database.

A hash chain shows an entry altered or removed in the middle, but not the newest entries cut
off (what is left is still a valid chain), nor a chain recomputed from an edited entry onwards
(its hashes take no key). So every ``checkpoint_every`` entries, and at least every
``checkpoint_seconds`` while requests are audited, the server appends a checkpoint — the
number of entries and the head hash, HMAC-SHA256-signed with a key from configuration — as
one JSON line to an append-only file in the data directory, and to a witness file the operator
can ship off the box. :func:`check` compares the log with every checkpoint it can read: a log
shorter than a checkpoint was truncated; an entry whose hash differs from a checkpoint's head
was rewritten.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from joinedup.access import audit
from joinedup.access.references import format_instant
from joinedup.access.settings import AccessSettings
from joinedup.store.base import Store

CHECKPOINT_FILE = "audit-checkpoints.jsonl"
KEY_FILE = "audit-checkpoint.key"
_DOMAIN = "joinedup-audit-checkpoint-v1"


@dataclass(frozen=True)
class Checkpoint:
    entries: int
    head: str
    recorded: str
    where: str
    """``path:line`` of the line it was read from (empty for one just written)."""

    def describe(self) -> str:
        return f"checkpoint {self.where} ({self.recorded})"


def _mac(key: bytes, entries: int, head: str, recorded: str) -> str:
    message = f"{_DOMAIN}|{entries}|{head}|{recorded}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_key(settings: AccessSettings, data_dir: Path) -> bytes:
    """``JOINEDUP_ACCESS_AUDIT_KEY``; unset, a random key generated once into
    ``<data-dir>/keys/`` (mode 0600) — fine for a laptop, not for production, where the key
    should live where someone who can write the database cannot read it."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    path = settings.key_dir(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; use theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def checkpoint_paths(settings: AccessSettings, data_dir: Path) -> tuple[Path, ...]:
    """Where checkpoints are written: the data directory's file, then the witness if set."""
    paths = [data_dir / CHECKPOINT_FILE]
    if settings.audit_witness is not None:
        paths.append(settings.audit_witness)
    return tuple(paths)


def write(paths: Sequence[Path], key: bytes, entries: int, head: str, now: datetime) -> None:
    """Append one signed checkpoint line to every file (one ``write`` each, so processes
    appending at once never interleave a line)."""
    recorded = format_instant(now)
    line = orjson.dumps(
        {
            "entries": entries,
            "head": head,
            "recorded": recorded,
            "mac": _mac(key, entries, head, recorded),
        }
    )
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class Reading:
    checkpoints: list[Checkpoint]
    problems: list[str]
    """Lines that are not checkpoints or whose signature does not check."""


def read(paths: Iterable[Path], key: bytes) -> Reading:
    """Every checkpoint in ``paths`` (missing files are skipped), each signature checked."""
    found: dict[tuple[int, str, str], Checkpoint] = {}
    problems: list[str] = []
    for path in paths:
        if not path.is_file():
            continue
        for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
            where = f"{path}:{number}"
            if not raw.strip():
                continue
            try:
                line = orjson.loads(raw)
                entries, head, recorded, mac = (
                    int(line["entries"]),
                    str(line["head"]),
                    str(line["recorded"]),
                    str(line["mac"]),
                )
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                problems.append(f"{where} is not a checkpoint: the file was edited")
                continue
            if not hmac.compare_digest(mac, _mac(key, entries, head, recorded)):
                problems.append(
                    f"checkpoint {where} ({recorded}) has a bad signature: the checkpoint "
                    "file was edited, or signed with another key (JOINEDUP_ACCESS_AUDIT_KEY)"
                )
                continue
            found.setdefault((entries, head, recorded), Checkpoint(entries, head, recorded, where))
    return Reading(sorted(found.values(), key=lambda c: (c.entries, c.recorded)), problems)


@dataclass(frozen=True)
class Report:
    """The chain and the checkpoints, checked together."""

    chain: audit.Verification
    checkpoints: int
    """Valid checkpoints read."""
    latest: Checkpoint | None
    problems: list[str]
    """Empty when the log is intact and agrees with every checkpoint."""

    @property
    def intact(self) -> bool:
        return not self.problems


def check(store: Store, paths: Sequence[Path], key: bytes) -> Report:
    """Recompute the chain and compare it with every checkpoint in ``paths``."""
    reading = read(paths, key)
    chain = audit.verify(store, at={c.entries for c in reading.checkpoints})
    problems = list(reading.problems)
    if chain.problem is not None:
        problems.insert(0, chain.problem)
    for checkpoint in reading.checkpoints:
        if checkpoint.entries > chain.entries:
            continue
        actual = chain.hashes.get(checkpoint.entries, audit.GENESIS)
        if actual != checkpoint.head:
            problems.append(
                f"entry {checkpoint.entries} does not match {checkpoint.describe()}: its hash "
                f"is {actual}, the checkpoint recorded {checkpoint.head}; the log was rewritten "
                f"at or before entry {checkpoint.entries}"
            )
            break
    beyond = [c for c in reading.checkpoints if c.entries > chain.entries]
    if beyond and chain.intact:
        last = beyond[-1]
        missing = (
            f"entry {last.entries}"
            if last.entries == chain.entries + 1
            else f"entries {chain.entries + 1}–{last.entries}"
        )
        problems.append(
            f"the log ends at entry {chain.entries} but {last.describe()} recorded "
            f"{last.entries} entries / head {last.head}: {missing} removed"
        )
    latest = reading.checkpoints[-1] if reading.checkpoints else None
    return Report(chain, len(reading.checkpoints), latest, problems)


class Checkpointer:
    """Writes a checkpoint after every ``every``-th entry, and after the first entry appended
    once ``seconds`` have passed since this process last wrote one (so a quiet log is
    anchored too). Entry numbers are shared by every process, so the count rule needs no
    coordination; the time rule at worst writes one checkpoint per process per period."""

    def __init__(self, paths: Sequence[Path], key: bytes, *, every: int, seconds: float) -> None:
        self.paths = tuple(paths)
        self.key = key
        self.every = every
        self.seconds = seconds
        self._last: float | None = None
        self._lock = threading.Lock()

    @classmethod
    def configured(cls, settings: AccessSettings, data_dir: Path) -> Checkpointer:
        return cls(
            checkpoint_paths(settings, data_dir),
            checkpoint_key(settings, data_dir),
            every=settings.checkpoint_every,
            seconds=settings.checkpoint_seconds,
        )

    def after_append(self, entry: audit.AuditEntry, now: datetime) -> None:
        """Call once ``entry`` is committed (a checkpoint must never name an entry that a
        rollback could take back)."""
        with self._lock:
            clock = time.monotonic()
            due = entry.seq % self.every == 0 or (
                self._last is None or clock - self._last >= self.seconds
            )
            if not due:
                return
            self._last = clock
        write(self.paths, self.key, entry.seq, entry.hash, now)
