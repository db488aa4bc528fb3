"""The β table (:func:`sclora.subspace.tradeoff`) solved in worker processes, each in its main thread.

torch's CPU eigensolver (LAPACK on OpenMP threads) runs several times slower in a thread other than the
main one when it may use several threads. A server computes in worker threads, so it hands the table to
separate processes: ``spawn``ed (a forked copy of OpenMP's threads can hang), started on first use and
reused. The modules are split between them; each process gets its share's statistics and weights packed
into two shared-memory buffers (no pickled copies of hundreds of MB) and sends its part of the table back.

Workers report progress per module. A stop ends them at once (new ones start for the next table);
workers that cannot start or die are reported, and :func:`tradeoff_in_workers` then solves in the
caller's thread instead.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from typing import Callable

import pandas as pd
import torch

from .statistics import SIDES, Statistics, StoppedError

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often a waiting caller checks its stop flag
MAX_PROCESSES = 4  # each process holds its own torch (a few hundred MB)


class WorkerFailed(RuntimeError):
    """A solver process could not start or did not answer."""


# ---------------------------------------------------------------------- what travels


def _pack(tensors: dict[str, torch.Tensor], dtype: torch.dtype) -> tuple[torch.Tensor, dict]:
    """One shared-memory buffer holding every tensor (one handle to send, not hundreds), and where each lies."""
    total = sum(t.numel() for t in tensors.values())
    buffer = torch.empty(max(total, 1), dtype=dtype).share_memory_()
    layout, start = {}, 0
    for name, t in tensors.items():
        buffer[start : start + t.numel()].copy_(t.reshape(-1))
        layout[name] = (start, tuple(t.shape))
        start += t.numel()
    return buffer, layout


def _unpack(buffer: torch.Tensor, layout: dict) -> dict[str, torch.Tensor]:
    return {name: buffer[start : start + _numel(shape)].view(shape) for name, (start, shape) in layout.items()}


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


class _Layers:
    """What ``Statistics.augmented_weight`` asks of a model (its layers by name), from their weights alone."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        self.tensors = tensors

    def get_submodule(self, name: str) -> torch.nn.Linear:
        w, b = self.tensors[f"{name}/weight"], self.tensors.get(f"{name}/bias")
        layer = torch.nn.Linear(w.shape[1], w.shape[0], bias=b is not None, device="meta")
        layer.weight = torch.nn.Parameter(w, requires_grad=False)
        if b is not None:
            layer.bias = torch.nn.Parameter(b, requires_grad=False)
        return layer


def _job(stats: Statistics, names: list[str]) -> dict:
    """What solving ``names`` needs, packed: their statistics and the input-side layers' weights and biases."""
    from .modules import weight_matrix

    matrices, weights = {}, {}
    for name in names:
        group = stats.group_of(name)
        key = group.key if group.stored == "input" else name
        matrices.update({f"{side}/{key}": stats.matrices[side][key] for side in SIDES if key in stats.matrices[side]})
        if group.stored == "input":
            if stats._model is None:
                stats.augmented_weight(name)  # loads the model by name, as solving here would
            layer = stats._model.get_submodule(name)
            # Weights travel in float32: a model's weights have at most 32 bits, so float64 made from them is exact.
            weights[f"{name}/weight"] = weight_matrix(layer).detach().to("cpu", torch.float32)
            if layer.bias is not None:
                weights[f"{name}/bias"] = layer.bias.detach().to("cpu", torch.float32)
    return {"stats": dataclasses.replace(stats, matrices={}, _model=None),
            "matrices": _pack(matrices, torch.float64), "weights": _pack(weights, torch.float32)}


def _rebuild(job: dict) -> Statistics:
    matrices: dict[str, dict[str, torch.Tensor]] = {side: {} for side in SIDES}
    for key, t in _unpack(*job["matrices"]).items():
        side, name = key.split("/", 1)
        matrices[side][name] = t
    return dataclasses.replace(job["stats"], matrices=matrices, _model=_Layers(_unpack(*job["weights"])))


# ---------------------------------------------------------------------- the worker's side


def _serve(conn) -> None:
    """The worker's loop: one table per request, progress messages meanwhile, until the pipe closes."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:  # a readiness check
            conn.send(("ready",))
        else:
            _solve(conn, request)


def _solve(conn, request: dict) -> None:
    """One table; its inputs (shared buffers) are let go when this returns."""
    from .subspace import tradeoff

    try:
        torch.set_num_threads(request["threads"])
        table = tradeoff(_rebuild(request["job"]), request["ranks"], request["betas"], request["modules"],
                         dtype=request["dtype"], progress=lambda done, total, desc: conn.send(("progress", done, total, desc)))
        conn.send(("table", table))
    except Exception as exc:  # the caller re-raises it (as text when it does not pickle)
        try:
            conn.send(("error", exc))
        except Exception:
            conn.send(("error", RuntimeError(repr(exc))))


# ---------------------------------------------------------------------- the caller's side


class _Worker:
    """One spawned process and our end of its pipe."""

    def __init__(self, ctx, index: int):
        self.conn, theirs = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(theirs,), name=f"sclora-solver-{index}", daemon=True)
        self.process.start()
        theirs.close()
        self.conn.send(None)  # answered once the worker has imported torch and the library
        self.ready = False

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()  # mid-solve there is nothing to save
        self.process.join(5)


class SolverProcesses:
    """Spawned worker processes, started on first use and reused, solving one table at a time.

    Each process solves a share of the modules with ``threads`` threads; by default one process per
    thread torch may use (at most ``MAX_PROCESSES``), one thread each: single-threaded solves need no
    OpenMP barriers, so they keep their speed when other work shares the cores.
    """

    def __init__(self, processes: int | None = None, start_timeout_s: float = 120.0):
        self.processes = processes
        self.start_timeout_s = start_timeout_s
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return bool(self._workers) and all(w.alive for w in self._workers)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def start(self) -> None:
        """Start the workers unless they run or are solving, without waiting for them to be ready.

        A failure is only logged: the next table tries again, and falls back when that fails too.
        """
        if not self._lock.acquire(blocking=False):
            return  # solving a table: they run
        try:
            self._start()
        except Exception as exc:
            log.warning("Could not start the solver processes: %r", exc)
        finally:
            self._lock.release()

    def _start(self) -> None:
        count = self.processes or min(torch.get_num_threads(), MAX_PROCESSES)
        if self.alive and len(self._workers) == count:
            return
        self._kill()
        ctx = torch.multiprocessing.get_context("spawn")
        for i in range(count):  # one by one, so that a failed start still ends those already started
            self._workers.append(_Worker(ctx, i))

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _kill(self) -> None:
        workers, self._workers = self._workers, []
        for w in workers:
            w.kill()

    def tradeoff(self, stats: Statistics, ranks: list[int], betas: list[float], dtype: torch.dtype,
                 progress: Callable[[int, int, str], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> pd.DataFrame:
        """``sclora.subspace.tradeoff(stats, ranks, betas, dtype=dtype)`` solved by the workers.

        Raises ``StoppedError`` soon after ``should_stop()`` turns true (the workers are ended; new ones
        start for the next table) and ``WorkerFailed`` when a worker cannot start or dies; errors of the
        solve itself are re-raised.
        """
        while not self._lock.acquire(timeout=POLL_S):  # one table at a time
            _check_stop(should_stop)
        try:
            try:
                self._start()
            except Exception as exc:
                raise WorkerFailed(f"the solver processes could not start ({exc!r})") from exc
            return self._solve(stats, ranks, betas, dtype, progress, should_stop)
        except (OSError, EOFError) as exc:
            self._kill()
            raise WorkerFailed(f"a solver process failed ({exc!r})") from exc
        except BaseException:
            self._kill()  # others may still be solving this table: fresh workers take the next one
            raise
        finally:
            self._lock.release()

    def _solve(self, stats, ranks, betas, dtype, progress, should_stop) -> pd.DataFrame:
        from multiprocessing.connection import wait

        names = stats.module_names
        # Shares handed out as workers finish, shrinking to single modules: no worker idles while another
        # still solves a large share, and each share is packed while the others solve.
        pending = list(enumerate(_shares(names, len(self._workers))))
        tables: list = [None] * len(pending)
        threads = max(1, torch.get_num_threads() // len(self._workers))
        busy: dict[int, tuple[int, int]] = {}  # worker -> (share, modules of it done)
        finished = 0

        def hand_out(i: int) -> None:
            index, share = pending.pop(0)
            busy[i] = (index, 0)
            self._workers[i].conn.send({"job": _job(stats, share), "modules": share, "ranks": list(ranks),
                                        "betas": [float(b) for b in betas], "dtype": dtype, "threads": threads})

        for i in range(min(len(self._workers), len(pending))):
            hand_out(i)
        deadline = time.monotonic() + self.start_timeout_s
        while busy:
            for conn in wait([self._workers[i].conn for i in busy], POLL_S):
                i = next(i for i, w in enumerate(self._workers) if w.conn is conn)
                message = conn.recv()
                if message[0] == "ready":
                    self._workers[i].ready = True  # started: from now on solving takes what it takes
                elif message[0] == "progress":
                    busy[i] = (busy[i][0], message[1])
                    if progress is not None:
                        progress(finished + sum(d for _, d in busy.values()), len(names), message[3])
                elif message[0] == "table":
                    index, done = busy.pop(i)
                    tables[index], finished = message[1], finished + done
                    if pending:
                        hand_out(i)
                else:
                    raise message[1]
            _check_stop(should_stop)
            for w in self._workers:
                if not w.alive:
                    raise WorkerFailed(f"a solver process exited (code {w.process.exitcode})")
                if not w.ready and time.monotonic() > deadline:
                    raise WorkerFailed(f"a solver process did not start within {self.start_timeout_s:.0f} s")
        return pd.concat(tables, ignore_index=True) if len(tables) > 1 else tables[0]


def _shares(names: list[str], workers: int) -> list[list[str]]:
    """Consecutive runs of modules, each half of what is left per worker (guided scheduling): large shares
    first for little overhead, single modules last, so the workers finish within about one module of each
    other (layers cost about the same)."""
    out, start = [], 0
    while start < len(names):
        size = max(1, math.ceil((len(names) - start) / (2 * max(1, workers))))
        out.append(names[start : start + size])
        start += size
    return out or [names]


def _check_stop(should_stop) -> None:
    if should_stop is not None and should_stop():
        raise StoppedError("Stopped: the β table was not finished.")


SOLVER = SolverProcesses()


def tradeoff_in_workers(stats: Statistics, ranks: list[int], betas: list[float], dtype: torch.dtype,
                        progress=None, should_stop=None, fallback: Callable[[], pd.DataFrame] | None = None,
                        solver: SolverProcesses = SOLVER) -> pd.DataFrame:
    """The table from the solver processes; ``fallback()`` (solving in this thread) when they fail."""
    try:
        return solver.tradeoff(stats, ranks, betas, dtype, progress, should_stop)
    except WorkerFailed as exc:
        if fallback is None:
            raise
        log.warning("Solving the β table in this thread instead of in solver processes: %s", exc)
        return fallback()
