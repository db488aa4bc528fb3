"""Timing that survives a shared machine, and the record of where it ran.

``interleaved`` runs the compared functions in turn (A B A B …), so a slow phase of the machine
hits every contender; it keeps every raw time, with the median and the minimum. ``check_part``
guards against a spoiled run: a composite step (the covariance pass, which contains a plain forward)
cannot be faster than its own part, so when its median is, both are measured once more and, if it
still is, the result is flagged in the JSON and the report.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

# Distributions whose versions every results.json records (those installed).
VERSIONED = ("torch", "transformers", "peft", "gradio", "gradio_client", "plotly", "pandas", "numpy",
             "safetensors", "gguf", "kaleido", "accelerate", "huggingface_hub", "tokenizers")


def _sync() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    except ImportError:  # timing plain Python functions needs no torch
        pass


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes (the device's queued work included)."""
    start = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - start


def summary(times: list[float]) -> dict:
    return {"times_s": list(times), "median_s": statistics.median(times), "min_s": min(times)}


def interleaved(funcs: dict[str, Callable[[], object]], repeats: int = 3, *, clock: Callable[[Callable], float] = timed,
                order: list[str] | None = None) -> dict[str, dict]:
    """Time every function ``repeats`` times, alternating A B A B …; per name: every time, median, min.

    ``order``, when given, receives the names in the order they ran (for checking the alternation).
    """
    if repeats < 3:
        raise ValueError(f"repeats must be >= 3 so that a median means something, got {repeats}")
    if not funcs:
        raise ValueError("nothing to time")
    times: dict[str, list[float]] = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, fn in funcs.items():
            times[name].append(clock(fn))
            if order is not None:
                order.append(name)
    return {name: summary(t) for name, t in times.items()}


def check_part(results: dict[str, dict], composite: str, part: str,
               remeasure: Callable[[], dict[str, dict]] | None = None, tolerance: float = 0.02) -> dict:
    """Check that ``composite`` (which runs ``part`` inside it) is not faster than ``part``.

    "Faster" means a median below (1 − ``tolerance``) × the part's: a composite that adds little
    work may come out a hair faster through timing noise alone. When it is faster, ``remeasure()``
    (interleaved timings of both, or None) is run once and replaces both entries of ``results``; if
    the composite is still faster, the check says ``flagged: True`` and the report marks the figures
    as spoiled by other load.
    """
    def faster() -> bool:
        return results[composite]["median_s"] < (1 - tolerance) * results[part]["median_s"]

    check = {"composite": composite, "part": part, "tolerance": tolerance, "remeasured": False, "flagged": False}
    if faster() and remeasure is not None:
        again = remeasure()
        for name in (composite, part):
            results[name] = dict(again[name], first_times_s=results[name]["times_s"])
        check["remeasured"] = True
    check["flagged"] = faster()
    check["composite_median_s"], check["part_median_s"] = results[composite]["median_s"], results[part]["median_s"]
    return check


def in_threads(calls: list[Callable[[], object]], started: Callable[[], None] | None = None) -> list:
    """Run every call in its own thread at once; their results in order. ``started()`` runs once all have
    started; a call that fails fails the whole (every failure named)."""
    import threading

    results: list = [None] * len(calls)
    errors: list[str] = []

    def one(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:  # recorded: a failed session fails the scenario
            errors.append(f"session {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    if started is not None:
        started()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return results


def rss_mib(pid: int | str = "self") -> float:
    """Resident memory of a process in MiB (Linux /proc; NaN elsewhere)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def machine() -> dict:
    """CPU model, cores, torch threads, GPU (name or None), OS and Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        info["torch_threads"], info["gpu"] = None, None
    return info


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in VERSIONED:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def git_commit(root: Path = ROOT) -> dict:
    """The commit measured and whether the working tree differed from it (None outside git)."""
    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
                                  check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def without_paths(argv: list[str], flags: tuple[str, ...]) -> list[str]:
    """A command's arguments without ``flags`` and their values: where the files go is not how they were made
    (and may be a local path)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item in flags:
            skip = True
        elif not item.startswith(tuple(f"{flag}=" for flag in flags)):
            out.append(item)
    return out
