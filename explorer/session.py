"""Per-session state, kept on the server and looked up by a key held in ``gr.State``.

``gr.State`` deep-copies its value for each session, so it holds only a short key; the data,
statistics and runs live here in a :class:`SessionStore`. Entries idle for longer than the
time-to-live (counted from the last request or training step, not from the data load) are dropped,
with their run folders, so memory and disk come back; Gradio's ``delete_callback`` drops a session
as soon as its browser tab goes away.

Nothing here references the shared base model: ``Statistics`` are stored detached and
re-attached (to the read-only base) when used.
"""

from __future__ import annotations

import ctypes
import gc
import os
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TTL_S = float(os.environ.get("SCLORA_SESSION_TTL", str(2 * 3600)))


class StopFlag:
    """A job's stop flag that also crosses process boundaries: a file.

    On ZeroGPU, GPU work runs in a forked worker that gets its arguments pickled, so a
    ``threading.Event`` would neither pickle nor be seen there; a file is both. The flag also reads
    as set once the session's folder is gone (the session was dropped).
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / f".stop-{uuid.uuid4().hex}"

    def set(self) -> None:
        try:
            self.path.touch()
        except FileNotFoundError:  # the session folder is gone: is_set() is already true
            pass

    def is_set(self) -> bool:
        return self.path.exists() or not self.path.parent.exists()


@dataclass
class Session:
    """What one user made: data, statistics, trade-off sweeps and runs."""

    key: str
    folder: Path                           # run folders, exports (deleted with the session)
    model_name: str = ""
    finetune: object | None = None         # Examples
    preserve: object | None = None
    data: object | None = None             # sclora.compare.PreparedData
    max_length: int = 256
    # Results computed from the data are shared read-only with every session that has the same data
    # (explorer.shared); the session holds references, never copies.
    statistics: object | None = None       # sclora.statistics.Statistics, detached from the model
    extra_sweeps: dict = field(default_factory=dict)  # β off the grid -> its tradeoff table (every rank)
    output_directions: dict = field(default_factory=dict)  # (module, method) -> PiSSA/MiLoRA/CorDA directions
    shown_tradeoff: tuple | None = None    # (table at the shown rank, β) last drawn in the β tab (for the export)
    shown_warnings: set = field(default_factory=set)  # warning toasts already shown once
    before: dict | None = None             # base model's evaluation for the current data
    runs: dict = field(default_factory=dict)     # label -> RunRecord (model dropped, adapter on disk)
    stop: StopFlag | None = None           # the current long job's flag (see new_job)
    lock: threading.RLock = field(default_factory=threading.RLock)  # guards the fields above
    last_used: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        """Still in use (a long job calls this as it goes, so the session does not expire under it)."""
        self.last_used = time.monotonic()

    def keep_alive(self, progress=None):
        """A progress(done, total, desc) callback that also marks the session as in use (a request waiting
        on long shared work must not see its session expire), forwarding to ``progress``."""
        def report(done: int, total: int, desc: str) -> None:
            self.touch()
            if progress is not None:
                progress(done, total, desc)
        return report

    def __post_init__(self) -> None:
        self.stop = StopFlag(self.folder)

    def new_job(self) -> StopFlag:
        """A fresh stop flag for a new long job (an older job keeps its own, possibly set, flag)."""
        self.stop = StopFlag(self.folder)
        return self.stop

    def reset_data(self) -> None:
        """New data or model: everything computed from the old data goes."""
        self.statistics, self.before = None, None
        self.extra_sweeps, self.output_directions, self.shown_tradeoff = {}, {}, None
        self.runs = {}
        for child in self.folder.glob("*"):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)


class SessionStore:
    """Sessions by key, with a time-to-live on idle sessions."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, root: str | Path | None = None):
        self.ttl_s = ttl_s
        self.root = Path(root or tempfile.mkdtemp(prefix="sclora-sessions-"))
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def get(self, key: str | None) -> Session:
        """The session for ``key``, created when missing (or expired)."""
        self.expire()
        with self._lock:
            session = self._sessions.get(key) if key else None
            if session is None:
                key = key or uuid.uuid4().hex
                folder = self.root / key
                folder.mkdir(parents=True, exist_ok=True)
                session = self._sessions[key] = Session(key=key, folder=folder)
            session.touch()
            return session

    def drop(self, key: str | None) -> None:
        with self._lock:
            session = self._sessions.pop(key, None) if key else None
        if session is not None:
            session.stop.set()  # a run still going ends at its next step
            shutil.rmtree(session.folder, ignore_errors=True)
            del session
            release_memory()

    def expire(self) -> list[str]:
        """Drop sessions idle for longer than the time-to-live; returns their keys."""
        now = time.monotonic()
        with self._lock:
            old = [k for k, s in self._sessions.items() if now - s.last_used > self.ttl_s]
        for key in old:
            self.drop(key)
        return old

    def start_reaper(self) -> None:
        """Expire idle sessions in the background too (not only when someone calls ``get``); once per store."""
        def loop() -> None:
            while True:
                time.sleep(max(0.5, min(60.0, self.ttl_s / 4)))
                self.expire()

        with self._lock:
            if self._reaper is None:
                self._reaper = threading.Thread(target=loop, name="sclora-session-reaper", daemon=True)
                self._reaper.start()

    def __len__(self) -> int:
        return len(self._sessions)


def release_memory() -> None:
    """Collect dropped sessions now and hand freed heap pages back to the OS.

    A session's statistics are hundreds of MiB of small and large tensors; glibc keeps freed pages
    in the process unless asked, so without ``malloc_trim`` the server's RSS never comes back down.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): the memory is still reusable in-process
        pass


STORE = SessionStore()


def new_key() -> str:
    return uuid.uuid4().hex
