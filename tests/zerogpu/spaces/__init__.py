"""A stand-in for Hugging Face's ``spaces`` package that keeps ZeroGPU's contract, for tests.

On ZeroGPU, ``@spaces.GPU`` runs the function in a forked worker process: its arguments go through
a multiprocessing queue (so they must pickle), its result or every yielded item comes back the same
way, and whatever it changes in module state stays in the worker. This stand-in does the same on
CPU, so that tests catch closures, thread events or GPU tensors crossing the boundary. Calls made
inside a worker run directly, as in ``spaces`` (``forked`` there).
"""

from __future__ import annotations

import functools
import inspect
import multiprocessing
import pickle

_fork = multiprocessing.get_context("fork")
_in_worker = False
calls: list[str] = []  # names of the functions run in a worker, in order (parent side)


def GPU(task=None, duration: int = 60):  # noqa: N802 - the real package's name
    if task is None:
        return lambda fn: GPU(fn, duration=duration)

    @functools.wraps(task)
    def regular(*args, **kwargs):
        if _in_worker:
            return task(*args, **kwargs)
        return list(_run(task, args, kwargs))[0]

    @functools.wraps(task)
    def generator(*args, **kwargs):
        if _in_worker:
            yield from task(*args, **kwargs)
            return
        yield from _run(task, args, kwargs)

    return generator if inspect.isgeneratorfunction(task) else regular


def _run(task, args, kwargs):
    """Run ``task`` in a forked worker; yield its pickled-and-restored result(s); re-raise its error."""
    payload = pickle.dumps((args, kwargs))  # raises here, like spaces, when an argument does not pickle
    calls.append(task.__qualname__)
    results = _fork.Queue()

    def worker() -> None:
        global _in_worker
        _in_worker = True
        # The real worker computes on the GPU; on CPU a forked child must not reuse the parent's
        # OpenMP pool (GNU OpenMP is not fork-safe), as in PyTorch's own DataLoader workers.
        import torch

        torch.set_num_threads(1)
        a, k = pickle.loads(payload)
        try:
            out = task(*a, **k)
            for item in (out if inspect.isgenerator(out) else [out]):
                results.put(("item", pickle.dumps(item)))
        except BaseException as exc:  # noqa: BLE001 - handed to the parent as spaces does
            try:
                results.put(("error", pickle.dumps(exc)))
            except Exception:  # noqa: BLE001
                results.put(("error", pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))))
        results.put(("done", None))

    process = _fork.Process(target=worker, daemon=True)
    process.start()
    try:
        while True:
            kind, data = results.get(timeout=600)
            if kind == "done":
                break
            if kind == "error":
                raise pickle.loads(data)
            yield pickle.loads(data)
    finally:
        if process.is_alive():
            process.terminate()
        process.join()
