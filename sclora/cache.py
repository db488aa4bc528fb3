"""Content-addressed results, computed once and shared by everyone who asks for the same thing.

A result is named by everything that determines it: a JSON-able dict of fields (model and its
weights' checksum, data fingerprints, sample counts, settings). Its key is the SHA-256 of that dict,
so identical inputs meet on one key and different inputs never do.

:class:`ResultCache` keeps results in memory (least recently used first out, under a byte cap)
and on disk (so a restarted server serves them again), and computes each key at most once at a
time: a caller who asks while the key is being computed joins that computation, sees its progress
and gets its result. Each computation runs in its own thread, so a caller who stops waiting never
stops it for the others; it stops only when every caller asked it to. Heavy computations take
turns through a :class:`WorkQueue`. Cached values are shared: callers must treat them as read-only.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import os
import shutil
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .errors import SCLoRAError, check
from .files import atomic_file_write

CACHE_FORMAT = 1  # part of every key: bump when a stored result's meaning changes

Progress = Callable[[int, int, str], None]
StopCheck = Callable[[], bool]


def result_key(kind: str, fields: dict) -> str:
    """SHA-256 (hex) of the kind and fields, in canonical JSON (sorted keys, floats as repr)."""
    check(isinstance(kind, str) and kind.isidentifier(), f"Result kind must be a name, got {kind!r}.")
    text = json.dumps({"kind": kind, "format": CACHE_FORMAT, "fields": fields}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Codec:
    """How one kind of result goes to disk and back, and what it costs in memory."""

    suffix: str                              # file suffix ("" for a folder)
    save: Callable[[Any, Path], None]        # write the value to this (temporary) path
    load: Callable[[Path], Any]
    nbytes: Callable[[Any], int]
    # Keep what load() gives back from the written copy, not the computed value (e.g. a folder that
    # belongs to a caller and may go away, while the cache's copy stays).
    keep_stored: bool = False
    # False for a value that is handed to its callers but never kept (e.g. a run stopped before its end).
    storable: Callable[[Any], bool] = lambda value: True


# ---------------------------------------------------------------------- taking turns


class WorkQueue:
    """At most ``slots`` heavy jobs at once, first come first served; waiters see their place and an estimate.

    First come first served is round-robin between users who each ask for one job at a time (a plan of
    runs asks for its next run only when the previous one is done, so it queues behind everyone who
    asked meanwhile). Each job has a kind ("run", "statistics", ...); the estimate of a wait sums the
    mean duration of the jobs ahead, by kind, from the jobs of that kind finished so far.
    """

    def __init__(self, slots: int = 1):
        check(isinstance(slots, int) and slots >= 1, f"slots must be an integer >= 1, got {slots!r}.")
        self.slots = slots
        self._cond = threading.Condition()
        self._running: list[tuple[str, float]] = []    # (kind, started) of the jobs holding a slot
        self._waiting: list[tuple[object, str]] = []   # (ticket, kind), first come first
        self._durations: dict[str, list[float]] = {}   # kind -> the last seconds taken

    def turn(self, progress: Progress | None = None, should_stop: StopCheck | None = None, poll_s: float = 0.5,
             kind: str = "job"):
        """Context manager: wait for a free slot (reporting the place in line), hold it inside."""
        return _Turn(self, progress, should_stop, poll_s, kind)

    def mean_seconds(self, kind: str) -> float | None:
        with self._cond:
            seconds = self._durations.get(kind)
            return sum(seconds) / len(seconds) if seconds else None

    def waiting_line(self, ticket: object) -> str:
        """'2 jobs ahead of yours (1 run, 1 statistics), about 3 min': what a waiter reads (hold ``_cond``)."""
        now = time.monotonic()
        ahead = [(k, now - t) for k, t in self._running]
        ahead += [(k, 0.0) for t, k in self._waiting[: [t for t, _ in self._waiting].index(ticket)]]
        kinds = Counter(k for k, _ in ahead)
        what = ", ".join(f"{n} {k}" for k, n in kinds.items())
        means = {k: (sum(v) / len(v) if (v := self._durations.get(k)) else None) for k in kinds}
        if any(m is None for m in means.values()):
            eta = "no estimate until one of each kind has finished"
        else:
            seconds = sum(max(0.0, means[k] - elapsed) for k, elapsed in ahead)
            eta = f"about {_duration(seconds)}"
        return f"{len(ahead)} job(s) ahead of yours ({what}), {eta}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class _Turn:
    def __init__(self, work: WorkQueue, progress, should_stop, poll_s, kind: str):
        self.work, self.progress, self.should_stop, self.poll_s, self.kind = work, progress, should_stop, poll_s, kind

    def __enter__(self):
        work, ticket = self.work, object()
        with work._cond:
            work._waiting.append((ticket, self.kind))
            try:
                while len(work._running) >= work.slots or work._waiting[0][0] is not ticket:
                    if self.should_stop is not None and self.should_stop():
                        from .statistics import StoppedError

                        raise StoppedError("Stopped while waiting for the server; nothing was computed.")
                    if self.progress is not None:
                        self.progress(0, 1, "waiting: " + work.waiting_line(ticket))
                    work._cond.wait(self.poll_s)
            except BaseException:
                work._waiting = [w for w in work._waiting if w[0] is not ticket]
                work._cond.notify_all()
                raise
            work._waiting.pop(0)
            self.entry = (self.kind, time.monotonic())
            work._running.append(self.entry)
        return self

    def __exit__(self, *exc):
        with self.work._cond:
            self.work._running.remove(self.entry)
            if exc[0] is None:  # only finished jobs inform the estimates
                seconds = self.work._durations.setdefault(self.kind, [])
                seconds.append(time.monotonic() - self.entry[1])
                del seconds[:-10]
            self.work._cond.notify_all()
        return False


# ---------------------------------------------------------------------- one computation


class _Flight:
    """One key being computed: its progress, its participants and, at the end, its value or error."""

    def __init__(self):
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.state: tuple[int, int, str] = (0, 1, "starting")
        self._lock = threading.Lock()
        self._participants: list[StopCheck | None] = []

    def join(self, should_stop: StopCheck | None) -> int:
        with self._lock:
            self._participants.append(should_stop)
            return len(self._participants) - 1

    def leave(self, index: int) -> None:
        with self._lock:
            self._participants[index] = _ALWAYS_STOPPED

    def should_stop(self) -> bool:
        """True only when every participant asked to stop (or left): one user never stops the others."""
        with self._lock:
            checks = list(self._participants)
        return bool(checks) and all(check is not None and check() for check in checks)

    def report(self, done: int, total: int, desc: str) -> None:
        self.state = (int(done), int(total), str(desc))


def _ALWAYS_STOPPED() -> bool:
    return True


# ---------------------------------------------------------------------- the cache


class ResultCache:
    """Results by key: memory (LRU, ``max_memory_bytes``) over disk (``root``, ``max_disk_bytes``).

    ``root=None`` keeps results in memory only.
    """

    def __init__(self, root: str | os.PathLike | None = None, max_memory_bytes: int = 2 << 30,
                 max_disk_bytes: int | None = 20 << 30, work: WorkQueue | None = None):
        self.root = Path(root) if root is not None else None
        self.max_memory_bytes = int(max_memory_bytes)
        self.max_disk_bytes = max_disk_bytes
        self.work = work or WorkQueue(1)
        self._memory: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self.computed = 0  # computations run (not served from memory or disk): for tests and benchmarks

    # ------------------------------------------------------------------ lookups
    def _path(self, kind: str, key: str, codec: Codec) -> Path | None:
        return None if self.root is None else self.root / kind / f"{key}{codec.suffix}"

    def peek(self, kind: str, fields: dict, codec: Codec) -> Any | None:
        """The result when it is in memory or on disk, else None; never computes."""
        key = result_key(kind, fields)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key][0]
        value = self._read_disk(kind, key, codec)
        if value is not None:
            self._remember(key, value, codec)
        return value

    def progress(self, kind: str, fields: dict) -> tuple[int, int, str] | None:
        """(done, total, description) of the computation of this result, while one runs; else None."""
        with self._lock:
            flight = self._flights.get(result_key(kind, fields))
        return None if flight is None else flight.state

    # ------------------------------------------------------------------ computing
    def start(self, kind: str, fields: dict, codec: Codec, compute: Callable[[Progress, StopCheck], Any],
              should_stop: StopCheck | None = None, heavy: bool = True) -> bool:
        """Make sure the result is cached or being computed, without waiting; True when a computation runs.

        ``compute(progress, should_stop)`` runs in its own thread, after taking a turn on the work queue when
        ``heavy``; its ``should_stop`` is true only when every participant's is (``should_stop=None``: this
        participant never stops it, as for work the server prepares ahead).
        """
        _, joined = self._join(kind, fields, codec, compute, should_stop, heavy)
        return joined is not None

    def get_or_compute(self, kind: str, fields: dict, codec: Codec, compute: Callable[[Progress, StopCheck], Any], *,
                       progress: Progress | None = None, should_stop: StopCheck | None = None, heavy: bool = True,
                       poll_s: float = 0.25, finish_on_stop: bool = False) -> Any:
        """The result for ``fields``: from memory, from disk, from a computation already running, or computed now.

        While waiting, ``progress(done, total, desc)`` follows the shared computation. When this caller's
        ``should_stop()`` turns true it stops waiting (raising ``StoppedError``); the computation goes on
        for the others, if any. With ``finish_on_stop``, a caller whose stop also stops the computation
        (nobody else waits for it) waits for what it returns when stopped (e.g. a run trained so far).
        """
        value, joined = self._join(kind, fields, codec, compute, should_stop, heavy)
        if joined is None:
            return value
        flight, index = joined
        try:
            while not flight.done.wait(poll_s):
                if should_stop is not None and should_stop() and not (finish_on_stop and flight.should_stop()):
                    from .statistics import StoppedError

                    raise StoppedError("Stopped; nothing was kept for this request.")
                if progress is not None:
                    progress(*flight.state)
        finally:
            flight.leave(index)
        if flight.error is not None:
            raise flight.error
        return flight.value

    def _join(self, kind, fields, codec, compute, should_stop, heavy) -> tuple[Any, tuple[_Flight, int] | None]:
        """(value, None) from memory, else (None, (flight, participant index)) of a running computation."""
        key = result_key(kind, fields)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                return self._memory[key][0], None
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = _Flight()
            index = flight.join(should_stop)
        if owner:  # the disk is read in the flight's thread too: one reader per key
            # The first caller's context variables go along (a web framework's request context, for example).
            context = contextvars.copy_context()
            threading.Thread(target=context.run, args=(self._run, kind, key, codec, compute, flight, heavy),
                             name=f"sclora-{kind}", daemon=True).start()
        return None, (flight, index)

    def _run(self, kind: str, key: str, codec: Codec, compute, flight: _Flight, heavy: bool) -> None:
        try:
            value = self._read_disk(kind, key, codec)
            if value is None:
                if heavy:
                    with self.work.turn(flight.report, flight.should_stop, kind=kind):
                        value = compute(flight.report, flight.should_stop)
                else:
                    value = compute(flight.report, flight.should_stop)
                with self._lock:
                    self.computed += 1
                if not codec.storable(value):
                    flight.value = value
                    return
                if self._write_disk(kind, key, codec, value) and codec.keep_stored:
                    value = codec.load(self._path(kind, key, codec))
            self._remember(key, value, codec)
            flight.value = value
        except BaseException as exc:  # handed to every participant, who shows it
            flight.error = exc
        finally:
            with self._lock:
                self._flights.pop(key, None)
            flight.done.set()

    # ------------------------------------------------------------------ memory and disk
    def _remember(self, key: str, value: Any, codec: Codec) -> None:
        size = int(codec.nbytes(value))
        with self._lock:
            self._memory[key] = (value, size)
            self._memory.move_to_end(key)
            total = sum(s for _, s in self._memory.values())
            while total > self.max_memory_bytes and len(self._memory) > 1:
                _, (_, dropped) = self._memory.popitem(last=False)
                total -= dropped
            if total > self.max_memory_bytes:  # a single result over the cap: on disk only
                self._memory.pop(key, None)

    def _read_disk(self, kind: str, key: str, codec: Codec) -> Any | None:
        path = self._path(kind, key, codec)
        if path is None or not path.exists():
            return None
        try:
            value = codec.load(path)
        except (SCLoRAError, OSError, ValueError, RuntimeError, KeyError) as exc:  # damaged: compute again
            _remove(path)
            del exc
            return None
        os.utime(path)  # recently used: pruned last
        return value

    def _write_disk(self, kind: str, key: str, codec: Codec, value: Any) -> bool:
        """Store the value on disk; False when there is no disk or it failed."""
        path = self._path(kind, key, codec)
        if path is None:
            return False
        try:
            if codec.suffix:
                atomic_file_write(path, lambda tmp: codec.save(value, Path(tmp)))
            else:
                from .models import atomic_directory_write

                atomic_directory_write(path, lambda tmp: codec.save(value, Path(tmp)))
        except OSError:  # a full or read-only disk costs the restart cache, not the result
            return False
        self.prune()
        return True

    def disk_bytes(self) -> int:
        if self.root is None or not self.root.exists():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def prune(self) -> None:
        """Delete the least recently used entries on disk until they fit ``max_disk_bytes``."""
        if self.root is None or self.max_disk_bytes is None or not self.root.exists():
            return
        entries = []
        for kind_dir in (p for p in self.root.iterdir() if p.is_dir()):
            for entry in kind_dir.iterdir():
                if entry.name.startswith("."):
                    continue  # a write in progress
                files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
                size = sum(f.stat().st_size for f in files)
                entries.append((entry.stat().st_mtime, size, entry))
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_disk_bytes:
                break
            _remove(entry)
            total -= size

    def clear_memory(self) -> None:
        with self._lock:
            self._memory.clear()


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
