"""The app under several users: `python app.py --model tiny-llama` in a subprocess, driven by gradio_client.

- 4 simultaneous sessions doing different things never see each other's data or runs, and one
  session's bad upload or bad parameter is an error for that session only;
- the queue is bounded (SCLORA_QUEUE_SIZE): extra work is refused, not piled up;
- cancelling a running fine-tune keeps the session usable and keeps the run it was on;
- session state has a time-to-live (SCLORA_SESSION_TTL): expired sessions' folders are deleted;
- only uploaded files are read: a server path sent through the API is refused.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request

import pytest

from ._server import free_port, start_app, stop_app
from ._util import BAD, ROOT

METRIC = "e− (share of C− energy touched)"


@pytest.fixture(scope="module")
def app():
    """`python app.py --model tiny-llama` in a subprocess, with a queue of 4 (started early: see conftest.py)."""
    server = start_app().wait_ready()
    yield server
    stop_app()


def _load(client, ft="math", ft_file=None, pr="knowledge", pr_file=None, records=20):
    """/load_data -> (summary, problems)."""
    out = client.predict("tiny-llama", ft, ft_file, pr, pr_file, 8, 256, records, api_name="/load_data")
    return out[0], out[1]


def _labels(table) -> list[str]:
    return [row[0] for row in table["data"]]


def test_four_sessions_stay_apart(app, tmp_path):
    from gradio_client import handle_file

    upload = tmp_path / "zebra.jsonl"
    upload.write_text("".join(json.dumps({"prompt": f"Zebra question {i}?", "response": f"Zebra answer {i}."}) + "\n"
                              for i in range(12)))
    results: dict[str, dict] = {name: {} for name in "ABCD"}
    errors: dict[str, list[str]] = {name: [] for name in "ABCD"}
    collected: list[str] = []
    collected_all = threading.Event()  # set once A, B and C have their covariances

    def covariances(name, c):
        out = c.predict(None, None, 0.9 if name != "C" else 0.5, 4, METRIC, api_name="/covariances")
        collected.append(name)
        if len(collected) == 3:
            collected_all.set()
        return out

    def expect_error(name, fragment, call):
        try:
            call()
        except Exception as exc:  # gradio_client raises AppError with the gr.Error message
            assert fragment in str(exc), str(exc)
            errors[name].append(fragment)
        else:
            raise AssertionError(f"session {name}: no error for {fragment!r}")

    def session_a(c):  # math + knowledge, LoRA
        r = results["A"]
        r["summary"], _ = _load(c)
        r["cov"] = covariances("A", c)
        r["ft"] = c.predict(["lora"], "0.5", "1e-3", 2, 4, 4, 1, api_name="/finetune")

    def session_b(c):  # its own upload + safety, SC-LoRA, generations
        r = results["B"]
        r["summary"], _ = _load(c, ft="upload", ft_file=handle_file(str(upload)), pr="safety", records=12)
        r["cov"] = covariances("B", c)
        r["ft"] = c.predict(["sclora"], "0.5", "2e-3", 2, 4, 4, 1, api_name="/finetune")
        r["gen"] = c.predict("Zebra?", _labels(r["ft"][2]), 4, api_name="/generate")

    def session_c(c):  # pirate + knowledge, trade-off only; tries to reach the runs of A and B
        r = results["C"]
        r["summary"], _ = _load(c, ft="pirate", records=16)
        r["cov"] = covariances("C", c)
        r["tradeoff"] = c.predict(0.5, 4, 1, "q_proj", api_name="/tradeoff")
        expect_error("C", "You have no", lambda: c.predict("lora lr=1e-02", api_name="/export"))
        expect_error("C", "You have no", lambda: c.predict("hi", ["sclora β=0.5 lr=2e-03"], 4, api_name="/generate"))

    def session_d(c):  # asks the base model while the others collect; bad upload and parameters; carries on
        r = results["D"]
        answers = []
        while not collected_all.is_set() and len(answers) < 300:
            answers.append(c.predict("What is 2 + 2?", 8, api_name="/answer"))
        r["answers"] = answers
        expect_error("D", "Load the data first", lambda: c.predict(None, None, 0.9, 4, METRIC, api_name="/covariances"))
        summary, problems = _load(c, ft="upload", ft_file=handle_file(str(BAD / "chat_unknown_role.jsonl")))
        r["bad_upload"] = (summary, problems)
        expect_error("D", "Choose a file to upload", lambda: _load(c, ft="upload"))
        r["summary"], _ = _load(c, pr="safety", records=12)
        expect_error("D", "'abc' is not a number", lambda: c.predict(["lora"], "0.5", "abc", 2, 4, 4, 1,
                                                                    api_name="/finetune"))
        expect_error("D", "not in the list of choices", lambda: c.predict(["dora"], "0.5", "1e-3", 2, 4, 4, 1,
                                                                          api_name="/finetune"))
        r["cov"] = c.predict(None, None, 0.9, 4, METRIC, api_name="/covariances")

    clients = {name: app.client() for name in "ABCD"}
    failures: list[BaseException] = []

    def run(fn, client):
        try:
            fn(client)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(fn, clients[name]))
               for name, fn in zip("ABCD", (session_a, session_b, session_c, session_d))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures

    a, b, c, d = (results[n] for n in "ABCD")
    # each session sees its own data
    assert "`math`" in a["summary"] and "`knowledge`" in a["summary"]
    assert "`zebra.jsonl`" in b["summary"] and "`safety`" in b["summary"]
    assert "`pirate`" in c["summary"] and "`safety`" in d["summary"]
    assert all("zebra" not in results[n]["summary"] for n in "ACD")
    assert "8 + 8 samples" in a["cov"][0] and "8 + 8 samples" in c["cov"][0]
    # ... and only its own runs
    assert _labels(a["ft"][2]) == ["lora lr=1e-02"] and a["ft"][0].startswith("Done: 1 run(s)")
    assert _labels(b["ft"][2]) == ["sclora β=0.5 lr=2e-03"] and b["ft"][0].startswith("Done: 1 run(s)")
    assert b["gen"][1]["headers"] == ["prompt", "base", "sclora β=0.5 lr=2e-03"]
    # errors went to the session that caused them, and that session carried on
    assert errors["C"] == ["You have no", "You have no"]
    assert errors["D"] == ["Load the data first", "Choose a file to upload", "'abc' is not a number",
                           "not in the list of choices"]
    assert d["bad_upload"][0] == "Data not loaded." and "chat_unknown_role.jsonl" in d["bad_upload"][1]
    assert "unknown role" in d["bad_upload"][1] or "role" in d["bad_upload"][1]
    assert len(d["answers"]) >= 2 and len(set(d["answers"])) == 1  # greedy, and the shared model never changed
    assert "14 modules" in d["cov"][0]

    # Statistics were not disturbed by the other sessions: a fresh session with A's data, alone, gets the same.
    e = app.client()
    _load(e)
    alone = e.predict(None, None, 0.9, 4, METRIC, api_name="/covariances")
    assert alone[3] == a["cov"][3] and alone[4] == a["cov"][4]  # spectra and heatmap figures


def test_a_long_finetune_holds_nobody_back_and_cancel_keeps_the_session_usable(app):
    """One long fine-tune trains; 8 more fine-tune requests, from sessions without data, are not queued behind
    it: each gets its own error while it runs (or, beyond the queue's 4 places, the queue's refusal). Cancelling
    the fine-tune (a closed tab) stops its run and keeps the session usable."""
    from gradio_client.utils import Status

    owner = app.client()
    _load(owner)
    long_job = owner.submit(["lora"], "0.5", "1e-3", 200, 4, 8, 1, api_name="/finetune")
    deadline = time.monotonic() + 120
    while long_job.status().code not in (Status.ITERATING, Status.PROCESSING) and time.monotonic() < deadline:
        time.sleep(0.2)
    others = [app.client() for _ in range(8)]
    jobs = [c.submit(["lora"], "0.5", "1e-3", 1, 4, 8, 1, api_name="/finetune") for c in others]
    answered = 0
    for job in jobs:
        with pytest.raises(Exception, match="Load the data first|Queue is full") as err:
            job.result(timeout=60)
        answered += "Load the data first" in str(err.value)
    assert answered >= 4 and not long_job.done()  # they were answered while it trained
    long_job.cancel()

    # The session still works; the cancelled run stopped (it is not what the new request waits for).
    started = time.monotonic()
    status, _, table, _, _ = owner.predict(["lora"], "0.5", "2e-3", 2, 4, 4, 1, api_name="/finetune")
    assert "lora lr=2e-02" in _labels(table) and status.startswith("Done: ")
    assert time.monotonic() - started < 60


def test_sessions_expire_after_idle_time_and_their_folders_go(monkeypatch):
    """An idle session (its data, statistics, runs and folder) is dropped TTL seconds after its last request;
    one still in use is kept however long ago its data was loaded. In-process (the store's TTL patched)."""
    import explorer.app as explorer_app
    from explorer.session import STORE
    from gradio_client import Client

    ttl = 8  # seconds; longer than one request takes on a small, busy CPU
    monkeypatch.setattr(STORE, "ttl_s", ttl)
    demo = explorer_app.build_app("tiny-llama")
    demo.queue(max_size=8)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        before = set(STORE.root.iterdir())
        clients = [Client(f"http://127.0.0.1:{port}/", verbose=False) for _ in range(3)]
        mine = set()
        for c in clients:
            _load(c, records=12)
            mine |= set(STORE.root.iterdir()) - before  # (an earlier one may have expired meanwhile)
        assert len(mine) == 3
        busy = Client(f"http://127.0.0.1:{port}/", verbose=False)
        _load(busy, records=12)
        busy_folder = (set(STORE.root.iterdir()) - before - mine).pop()
        until = time.monotonic() + 2 * ttl
        while time.monotonic() < until:  # keeps working, long after its data load
            busy.predict(None, None, 0.9, 4, METRIC, api_name="/covariances")
            time.sleep(ttl / 3)
        assert busy_folder.exists() and busy_folder.name in STORE._sessions
        deadline = time.monotonic() + ttl + 15
        while any(p.exists() for p in mine) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(p.exists() for p in mine)
        assert not {p.name for p in mine} & set(STORE._sessions)
        # An expired session starts afresh: its data is gone, not replaced by someone else's.
        with pytest.raises(Exception, match="Load the data first"):
            clients[0].predict(None, None, 0.9, 4, METRIC, api_name="/covariances")
    finally:
        demo.close()


def _raw_call(url: str, api: str, data: list) -> str:
    """POST to the queue API directly (no client-side upload) and return the event stream."""
    request = urllib.request.Request(f"{url}gradio_api/call/{api}", data=json.dumps({"data": data}).encode(),
                                     headers={"Content-Type": "application/json"})
    event_id = json.load(urllib.request.urlopen(request, timeout=30))["event_id"]
    return urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=60).read().decode()


@pytest.mark.parametrize("path", ["tests/data/good/chat.jsonl", str(ROOT / "assets" / "data" / "math.jsonl"),
                                  "../../etc/passwd"], ids=["relative", "absolute", "traversal"])
def test_only_uploaded_files_are_read(app, path):
    """A path on the server that was not uploaded is refused (gradio checks its upload folder)."""
    stream = _raw_call(app.url, "load_data", ["tiny-llama", "upload", {"path": path, "meta": {"_type": "gradio.FileData"}},
                                               "knowledge", None, 8, 256, 20])
    assert stream.startswith("event: error"), stream[:300]
    assert "chat.jsonl" not in stream and "records" not in stream


def test_oversized_upload_is_refused(app, tmp_path):
    from gradio_client import handle_file

    big = tmp_path / "big.jsonl"
    with open(big, "wb") as f:
        f.truncate(21 * 2**20)
    with pytest.raises(Exception):
        _load(app.client(), ft="upload", ft_file=handle_file(str(big)))


APP_BAD_INPUTS = {
    # id: (endpoint, arguments, fragment of the error the session gets)
    "model-path-traversal": ("/load_data", ["../../etc", "math", None, "knowledge", None, 8, 256, 12], "local folder"),
    "model-url": ("/load_data", ["https://example.com/owner/model", "math", None, "knowledge", None, 8, 256, 12],
                  "URLs are not accepted"),
    "model-shell-text": ("/load_data", ["owner/name;rm -rf ~", "math", None, "knowledge", None, 8, 256, 12],
                         "SCLORA_ALLOW_LOCAL_MODELS"),
    "unknown-bundled-set": ("/load_data", ["tiny-llama", "/etc/passwd", None, "knowledge", None, 8, 256, 12],
                            "not in the list of choices"),
    "tradeoff-beta-above-1": ("/tradeoff", [1.5, 4, 1, "q_proj"], "1.5"),
    "tradeoff-rank-above-d_out": ("/tradeoff", [0.5, 128, 1, "q_proj"], "Rank 128 is not available"),
    "finetune-steps-0": ("/finetune", [["lora"], "0.5", "1e-3", 0, 4, 4, 1], "0"),
    "finetune-no-methods": ("/finetune", [[], "0.5", "1e-3", 2, 4, 4, 1], "'methods' is empty"),
    "finetune-lr-nan": ("/finetune", [["lora"], "0.5", "nan", 2, 4, 4, 1], "finite"),
    "finetune-lr-empty": ("/finetune", [["lora"], "0.5", " , ", 2, 4, 4, 1], "at least one"),
    "finetune-beta-above-1": ("/finetune", [["sclora"], "1.5", "1e-3", 2, 4, 4, 1], "between 0 and 1"),
    "finetune-rank-too-large-for-pissa": ("/finetune", [["pissa"], "0.5", "1e-3", 2, 128, 4, 1], "too large"),
    "generate-no-prompt": ("/generate", ["  \n ", [], 4], "at least one prompt"),
    "generate-too-many-prompts": ("/generate", ["\n".join(f"q{i}" for i in range(33)), [], 4], "At most 32 prompts"),
    "answer-empty-prompt": ("/answer", ["   ", 8], "non-empty"),
}


@pytest.fixture(scope="module")
def loaded(app):
    """One session with data and statistics, shared by the bad-input cases (each must leave it usable)."""
    client = app.client()
    _load(client, records=12)
    client.predict(None, None, 0.9, 4, METRIC, api_name="/covariances")
    return client


@pytest.mark.parametrize("case", sorted(APP_BAD_INPUTS))
def test_app_bad_input_is_an_error_for_that_session(loaded, case):
    endpoint, args, fragment = APP_BAD_INPUTS[case]
    with pytest.raises(Exception) as info:
        loaded.predict(*args, api_name=endpoint)
    assert fragment in str(info.value), str(info.value)
    summary, *_ = loaded.predict(0.5, 4, 1, "q_proj", api_name="/tradeoff")  # the session still works
    assert "rank 4" in summary


def test_a_room_with_bad_input_beside_it(tmp_path):
    """Good sessions and sessions sending bad input at once, on a fresh server (benchmarks/workshop.py's
    'bad' scenario, small, two rounds): no good session fails, every bad one gets its own message."""
    from benchmarks import workshop

    out = tmp_path / "workshop.json"
    workshop.main(["--scenario", "bad", "--sessions", "4", "--model", "tiny-llama", "--records", "20",
                   "--samples", "8", "--ttl", "4", "--out", str(out)])
    (run,) = json.loads(out.read_text())["scenarios"]
    assert run["failed_good_sessions"] == 0 and len(run["per_session"]) == 4
    assert all(b["got_its_message"] for b in run["bad_sessions"]), run["bad_sessions"]
    assert run["bad_with_their_message"] == run["rounds"] * len(workshop.BAD_INPUTS) == 8
    # The sessions' own state is gone once they expired: memory is back near where it started, round after round.
    first, second = run["memory_after_each_round_mib"]
    assert first < run["memory_baseline_mib"] + 64
    assert second < run["memory_baseline_mib"] + 64
