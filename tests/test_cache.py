"""sclora.cache: content-addressed results, one computation per key, memory cap, disk across restarts."""

from __future__ import annotations

import json
import threading
import time

import pytest

from sclora.cache import Codec, ResultCache, WorkQueue, result_key
from sclora.statistics import StoppedError

JSON = Codec(".json", save=lambda v, p: p.write_text(json.dumps(v)), load=lambda p: json.loads(p.read_text()),
             nbytes=lambda v: len(json.dumps(v)))


def slow(value, seconds=0.3, calls=None):
    def compute(report, should_stop):
        if calls is not None:
            calls.append(value)
        for i in range(10):
            if should_stop():
                raise StoppedError("stopped")
            report(i, 10, "working")
            time.sleep(seconds / 10)
        return value
    return compute


def test_keys_depend_on_every_field_and_not_on_their_order():
    assert result_key("stats", {"a": 1, "b": [1, 2]}) == result_key("stats", {"b": [1, 2], "a": 1})
    assert result_key("stats", {"a": 1}) != result_key("stats", {"a": 2})
    assert result_key("stats", {"a": 1}) != result_key("sweep", {"a": 1})
    assert result_key("stats", {"a": 0.1}) != result_key("stats", {"a": 0.1000001})


def test_concurrent_identical_requests_compute_once_and_see_progress(tmp_path):
    cache, calls = ResultCache(tmp_path), []
    results, seen = [None] * 8, [[] for _ in range(8)]

    def ask(i):
        results[i] = cache.get_or_compute("thing", {"x": 1}, JSON, slow({"v": 1}, 1.0, calls),
                                          progress=lambda d, t, desc: seen[i].append((d, t, desc)), poll_s=0.05)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [{"v": 1}] and cache.computed == 1
    assert all(r == {"v": 1} for r in results)
    assert all(any(desc == "working" for _, _, desc in s) for s in seen)  # every waiter followed the progress


def test_results_survive_a_restart_through_the_disk(tmp_path):
    first = ResultCache(tmp_path)
    assert first.get_or_compute("thing", {"x": 2}, JSON, slow([1, 2, 3], 0.01)) == [1, 2, 3]
    again = ResultCache(tmp_path)  # a new server process on the same folder
    calls = []
    assert again.get_or_compute("thing", {"x": 2}, JSON, slow([9], 0.01, calls)) == [1, 2, 3]
    assert calls == [] and again.computed == 0
    assert again.get_or_compute("thing", {"x": 3}, JSON, slow([9], 0.01, calls)) == [9]  # other inputs: computed


def test_a_damaged_file_is_computed_again(tmp_path):
    cache = ResultCache(tmp_path)
    cache.get_or_compute("thing", {"x": 4}, JSON, slow("good", 0.01))
    (path,) = (tmp_path / "thing").glob("*.json")
    path.write_text("{not json")
    fresh = ResultCache(tmp_path)
    assert fresh.get_or_compute("thing", {"x": 4}, JSON, slow("again", 0.01)) == "again"
    assert json.loads(path.read_text()) == "again"


def test_memory_is_capped_least_recently_used_first(tmp_path):
    cache = ResultCache(None, max_memory_bytes=30)  # memory only: what leaves memory is gone
    for i in range(3):
        cache.get_or_compute("thing", {"i": i}, JSON, slow("x" * 10, 0.0))  # 12 bytes each
    assert cache.peek("thing", {"i": 0}, JSON) is None  # the oldest went
    assert cache.peek("thing", {"i": 2}, JSON) == "x" * 10
    big = cache.get_or_compute("thing", {"i": 9}, JSON, slow("y" * 100, 0.0))
    assert big == "y" * 100 and cache.peek("thing", {"i": 9}, JSON) is None  # over the cap: returned, not kept


def test_disk_is_capped_oldest_first(tmp_path):
    cache = ResultCache(tmp_path, max_disk_bytes=250)
    for i in range(5):
        cache.get_or_compute("thing", {"i": i}, JSON, slow("z" * 100, 0.0))
        time.sleep(0.02)  # distinct modification times
    assert cache.disk_bytes() <= 250
    names = {p.name for p in (tmp_path / "thing").iterdir()}
    assert f"{result_key('thing', {'i': 4})}.json" in names and f"{result_key('thing', {'i': 0})}.json" not in names


def test_one_caller_stopping_does_not_stop_the_others(tmp_path):
    cache, calls = ResultCache(tmp_path), []
    stop_first = threading.Event()
    out = {}

    def first():
        try:
            cache.get_or_compute("thing", {"x": 5}, JSON, slow("done", 1.0, calls), should_stop=stop_first.is_set,
                                 poll_s=0.02)
        except StoppedError:
            out["first"] = "stopped"

    def second():
        out["second"] = cache.get_or_compute("thing", {"x": 5}, JSON, slow("done", 1.0, calls),
                                             should_stop=lambda: False, poll_s=0.02)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    stop_first.set()
    for t in threads:
        t.join()
    assert out == {"first": "stopped", "second": "done"} and calls == ["done"]


def test_the_computation_stops_when_every_caller_stops(tmp_path):
    cache, stop = ResultCache(tmp_path), threading.Event()
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    with pytest.raises(StoppedError):
        cache.get_or_compute("thing", {"x": 6}, JSON, slow("never", 5.0), should_stop=stop.is_set, poll_s=0.02)
    deadline = time.monotonic() + 5
    while cache.progress("thing", {"x": 6}) is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cache.progress("thing", {"x": 6}) is None and cache.peek("thing", {"x": 6}, JSON) is None
    assert cache.computed == 0


def test_errors_reach_every_waiter_and_are_not_cached(tmp_path):
    cache = ResultCache(tmp_path)

    def broken(report, should_stop):
        time.sleep(0.2)
        raise ValueError("bad input")

    errors = []

    def ask():
        try:
            cache.get_or_compute("thing", {"x": 7}, JSON, broken, poll_s=0.02)
        except ValueError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["bad input"] * 3
    assert cache.get_or_compute("thing", {"x": 7}, JSON, slow("fixed", 0.0)) == "fixed"


def test_heavy_work_takes_turns_and_waiters_see_their_place():
    work = WorkQueue(1)
    cache = ResultCache(None, work=work)
    running, peak, places = [0], [0], []
    lock = threading.Lock()

    def job(report, should_stop):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return 1

    threads = [threading.Thread(target=lambda i=i: cache.get_or_compute(
        "job", {"i": i}, JSON, job, progress=lambda d, t, desc: places.append(desc), poll_s=0.02)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 1 and cache.computed == 3
    assert any(desc.startswith("waiting: 1 job(s) ahead of yours (1 job)") for desc in places)


def _holding(work: WorkQueue, kind: str, release: threading.Event) -> threading.Thread:
    """A thread holding the queue's slot with a job of ``kind`` until ``release`` is set."""
    def hold():
        with work.turn(kind=kind):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.05)
    return holder


def test_waiters_read_their_place_and_an_estimate_from_finished_jobs_of_each_kind():
    work = WorkQueue(1)
    with work.turn(kind="run"):
        time.sleep(0.05)
    assert 0.04 < work.mean_seconds("run") < 1.0 and work.mean_seconds("statistics") is None
    lines, release = [], threading.Event()
    holder = _holding(work, "run", release)
    waiters = [threading.Thread(target=lambda kind=kind: work.turn(
        lambda d, t, desc: lines.append((kind, desc)), poll_s=0.01, kind=kind).__enter__().__exit__(None, None, None))
        for kind in ("run", "statistics")]
    for w in waiters:
        w.start()
        time.sleep(0.05)
    release.set()
    for t in [holder, *waiters]:
        t.join()
    first = next(desc for kind, desc in lines if kind == "run")
    assert first.startswith("waiting: 1 job(s) ahead of yours (1 run), about ") and first.endswith(" s")
    second = next(desc for kind, desc in lines if kind == "statistics")
    assert second.startswith("waiting: 2 job(s) ahead of yours (2 run), about ")


def test_an_estimate_waits_for_a_finished_job_of_the_kind_ahead():
    work, seen, release = WorkQueue(1), [], threading.Event()
    holder = _holding(work, "statistics", release)
    with pytest.raises(StoppedError):
        with work.turn(lambda d, t, desc: seen.append(desc), should_stop=lambda: bool(seen), poll_s=0.01):
            pass
    release.set()
    holder.join(2)
    assert seen == ["waiting: 1 job(s) ahead of yours (1 statistics), no estimate until one of each kind has finished"]


def test_users_asking_one_job_at_a_time_take_turns_round_robin():
    """A's long plan does not hold B back: B's job runs after A's current one, not after A's whole plan."""
    work, order = WorkQueue(1), []

    def plan(user: str, jobs: int) -> None:
        for i in range(jobs):
            with work.turn(poll_s=0.005):
                order.append(f"{user}{i}")
                time.sleep(0.03)

    a = threading.Thread(target=plan, args=("A", 4))
    a.start()
    time.sleep(0.01)
    b = threading.Thread(target=plan, args=("B", 2))
    b.start()
    a.join()
    b.join()
    assert order.index("B0") <= 2 and order.index("B1") <= 4, order


def test_a_value_that_is_not_storable_reaches_its_callers_but_is_never_kept(tmp_path):
    codec = Codec(".json", save=JSON.save, load=JSON.load, nbytes=JSON.nbytes, storable=lambda v: v["complete"])
    cache = ResultCache(tmp_path)
    assert cache.get_or_compute("run", {"n": 1}, codec, lambda r, s: {"complete": False}) == {"complete": False}
    assert cache.peek("run", {"n": 1}, codec) is None and not list(tmp_path.rglob("*.json"))
    assert cache.get_or_compute("run", {"n": 1}, codec, lambda r, s: {"complete": True}) == {"complete": True}
    assert cache.peek("run", {"n": 1}, codec) == {"complete": True}


def test_finish_on_stop_waits_for_what_a_stopped_computation_returns(tmp_path):
    stop = threading.Event()

    def train(report, should_stop):
        while not should_stop():
            time.sleep(0.01)
        return "trained so far"

    threading.Timer(0.1, stop.set).start()
    cache = ResultCache(tmp_path)
    assert cache.get_or_compute("run", {"n": 2}, JSON, train, should_stop=stop.is_set, finish_on_stop=True,
                                poll_s=0.01) == "trained so far"
    # Someone else still waits for it: the caller who stopped stops waiting, the computation goes on.
    other_stop, mine = threading.Event(), threading.Event()

    def wait_for_it():
        with pytest.raises(StoppedError):
            cache.get_or_compute("run", {"n": 3}, JSON, train, should_stop=other_stop.is_set, poll_s=0.01)

    other = threading.Thread(target=wait_for_it)
    other.start()
    time.sleep(0.05)
    mine.set()
    with pytest.raises(StoppedError):
        cache.get_or_compute("run", {"n": 3}, JSON, train, should_stop=mine.is_set, finish_on_stop=True, poll_s=0.01)
    other_stop.set()
    other.join(2)


def test_a_light_result_does_not_wait_for_heavy_work(tmp_path):
    cache = ResultCache(tmp_path, work=WorkQueue(1))
    threading.Thread(target=lambda: cache.get_or_compute("heavy", {}, JSON, slow(1, 2.0))).start()
    time.sleep(0.1)
    started = time.monotonic()
    assert cache.get_or_compute("light", {}, JSON, slow(2, 0.0), heavy=False) == 2
    assert time.monotonic() - started < 1.5


def test_the_computation_sees_the_first_callers_context_variables(tmp_path):
    import contextvars

    request = contextvars.ContextVar("request", default=None)
    request.set("user-1")
    seen = ResultCache(tmp_path).get_or_compute("thing", {"x": 8}, JSON, lambda report, stop: request.get())
    assert seen == "user-1"
