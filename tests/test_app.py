"""Callbacks of the explorer (tiny-llama, first records of the bundled sets): plain functions, real library."""

from __future__ import annotations

import shutil
import threading
import time
import warnings
import zipfile
from pathlib import Path

import pytest

from explorer import engine, shared
from explorer.session import STORE, SessionStore
from explorer.tabs import covariances, data, export, finetune, generations, subspace
from sclora.errors import SCLoRAError

BAD = Path(__file__).parent / "data" / "bad"
GOOD = Path(__file__).parent / "data" / "good"
MODEL = "tiny-llama"
RECORDS, SAMPLES, LENGTH = 20, 8, 256  # byte-level tiny tokenizer: math samples are ~170 tokens


@pytest.fixture(scope="module", autouse=True)
def _tiny_default():
    engine.set_default_model(MODEL)
    warnings.filterwarnings("ignore", category=UserWarning)


@pytest.fixture(scope="module")
def ready():
    """A session with data and statistics."""
    session = STORE.get(None)
    data.load(session, MODEL, "math", "knowledge", SAMPLES, LENGTH, RECORDS)
    covariances.compute(session)
    return session


@pytest.fixture(scope="module")
def trained(ready):
    """The ready session after a 2-step LoRA and SC-LoRA run."""
    events = [e for e, _ in finetune.run_plan(ready, ["lora", "sclora"], "0.5", "1e-3", 2, 4, 4, 1)]
    assert [e[0] for e in events].count("run") == 2
    return ready


def test_load_reports_format_counts_and_lengths():
    session = STORE.get(None)
    out = data.load(session, MODEL, "math", "knowledge", SAMPLES, LENGTH, RECORDS)
    assert "shape **prompt_response**" in out["summary"]
    assert "20 records → 16 train / 4 held-out" in out["summary"]
    assert f"{SAMPLES} samples for the statistics" in out["summary"]
    assert "first 20 of 400 records" in out["problems"]
    assert len(out["previews"][0]) == data.PREVIEW_ROWS and "prompt" in out["previews"][0].columns
    assert sum(len(t.x) for t in out["histogram"].data) == 2 * RECORDS
    assert len(session.data.finetune_ids) == SAMPLES


def test_upload_with_problems_is_shown_not_loaded():
    key, summary, problems, ft, pr, fig = data.on_load(None, MODEL, data.UPLOAD, str(BAD / "missing_pair.jsonl"),
                                                       "knowledge", None, SAMPLES, LENGTH, 0)
    assert summary == "Data not loaded." and ft is None
    assert "missing_pair.jsonl" in problems and "line" in problems
    assert STORE.get(key).data is None


def test_upload_of_a_good_file_and_missing_upload():
    session = STORE.get(None)
    out = data.load(session, MODEL, str(GOOD / "chat.jsonl"), "knowledge", SAMPLES, LENGTH, 0)
    assert "`chat.jsonl`" in out["summary"] and "shape **chat**" in out["summary"]
    with pytest.raises(SCLoRAError, match="upload"):
        data.resolve_spec(data.UPLOAD, None, "fine-tune")


def test_model_names_are_validated(monkeypatch, tmp_path):
    assert engine.check_model_name(engine.model_choices()[0]) == "bundled"
    assert engine.check_model_name("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"
    with pytest.raises(SCLoRAError, match="hub id"):
        engine.check_model_name("not a model")
    monkeypatch.delenv("SCLORA_ALLOW_LOCAL_MODELS", raising=False)
    with pytest.raises(SCLoRAError, match="SCLORA_ALLOW_LOCAL_MODELS"):
        engine.check_model_name(str(tmp_path))
    monkeypatch.setenv("SCLORA_ALLOW_LOCAL_MODELS", "1")
    assert engine.check_model_name(str(tmp_path)) == str(tmp_path)
    monkeypatch.setenv("SPACE_ID", "someone/space")  # never on Spaces
    with pytest.raises(SCLoRAError, match="locally"):
        engine.check_model_name(str(tmp_path))


def test_statistics_are_cached_when_beta_or_rank_change(ready, monkeypatch):
    stats = ready.statistics
    assert stats is not None and stats._model is None  # the session never holds the base model
    monkeypatch.setattr(engine, "collect_statistics", lambda *a, **k: pytest.fail("statistics recomputed"))
    layers, kinds = covariances.layers_and_kinds(ready)
    assert kinds[0] == "q_proj" and layers == [0, 1]
    fig = covariances.spectra_figure(ready, 1, "v_proj", 0.3)
    assert "model.layers.1.self_attn.v_proj" in fig.layout.title.text
    heat = covariances.heatmap_figure(ready, 0.9, 4, list(covariances.HEATMAP_METRICS)[0])
    assert len(heat.data[0].y) == 2
    out = subspace.update(ready, 0.2, 4, 1, "q_proj")
    assert "β = 0.2, rank 4" in out["summary"]
    monkeypatch.setattr(shared, "tradeoff", lambda *a, **k: pytest.fail("solved again for a new rank"))
    table = covariances.sweep(ready, 2, [0.9])  # another rank: answered from the same eigensolves
    assert ready.statistics is stats
    assert set(table["rank"]) == {2} and len(table[table.beta == 0.9]) == len(stats.modules)
    with pytest.raises(SCLoRAError, match="choose 1 to 32"):  # the k/v projections have 32 outputs
        covariances.sweep(ready, 65, [0.9])


def test_tradeoff_shows_the_non_uniqueness_warning_and_angles(ready):
    out = subspace.update(ready, 1.0, 4, 0, "o_proj")
    assert any("not unique" in w for w in out["warnings"]) and "not unique" in out["summary"]
    assert {t.name for t in out["angles"].data} == {f"SC-LoRA vs {m}" for m in ("pissa", "milora", "corda-kpm",
                                                                                 "corda-ipm")}
    assert all(0 <= a <= 90 for t in out["angles"].data for a in t.y)
    # the other methods' directions are cached per module: a new β or rank runs no forward pass
    assert {m for _, m in ready.output_directions} == set(subspace.ANGLE_METHODS)
    cached = dict(ready.output_directions)
    subspace.update(ready, 0.3, 2, 0, "o_proj")
    assert all(ready.output_directions[k] is v for k, v in cached.items())
    marker = [t for t in out["totals"].data if t.mode == "markers"]
    assert list(marker[0].x) == [1.0]


def test_covariances_can_be_stopped_and_nothing_is_kept(monkeypatch):
    original = engine.collect_statistics

    def slow(*args, progress=None, **kwargs):  # each batch takes a while, so Stop lands mid-way
        def report(*a):
            time.sleep(0.3)
            progress(*a)
        return original(*args, progress=report, **kwargs)

    monkeypatch.setattr(engine, "collect_statistics", slow)
    session = STORE.get(None)
    data.load(session, MODEL, "math", "knowledge", SAMPLES - 1, LENGTH, RECORDS)  # statistics nobody computed yet
    calls = []

    def progress(done, total, desc):
        calls.append(done)
        covariances.on_stop(session.key)

    with pytest.raises(SCLoRAError, match="(?i)stopped"):
        covariances.compute(session, progress)
    assert calls and session.statistics is None
    fields = shared.statistics_fields(MODEL, session.data)
    assert wait_until(lambda: shared.RESULTS.progress("statistics", fields) is None)  # the computation ended too
    assert shared.RESULTS.peek("statistics", fields, shared.STATISTICS) is None  # and kept nothing


def wait_until(condition, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_finetune_records_runs_table_and_plots(trained):
    table, scatter, changes = finetune.results(trained)
    # LoRA at the LoRA factor (10x) times the learning rate: the residual init's steps are far bigger.
    assert list(table["Run"]) == ["lora lr=1e-02", "sclora β=0.5 lr=1e-03"]
    assert (table["Steps"] == 2).all()
    assert {"Fine-tune loss ↓", "Preserve loss change (+ forgot)", "Preserve multiple choice ↑",
            "Forgotten prompts", "Learned prompts"} <= set(table.columns)
    assert not any("_" in column for column in table.columns)  # headers for people, not field names
    assert {t.name for t in scatter.data} >= {"lora", "sclora", "base model"}
    assert list(changes.columns) == list(finetune.CHANGE_COLUMNS.values())
    for run in trained.runs.values():  # the counts in the table are the rows of the changes table
        for change in ("forgotten", "learned"):
            listed = changes[(changes["Run"] == run.label) & (changes["Change"] == change)]
            assert len(listed) == int(table.loc[table["Run"] == run.label, change.capitalize() + " prompts"].iloc[0])
    for run in trained.runs.values():
        assert run.model is None and (run.path / "adapter" / "adapter_config.json").is_file()
        assert run.path.is_relative_to(trained.folder)


def test_the_finetune_handler_sends_only_what_changed_and_draws_a_room_s_plot_once(monkeypatch):
    # A session watching a run somebody else trains sees the same status and curve many times a second: each
    # message would cost the server CPU that the run needs, so only changes go out, and the plot of a curve
    # that a room watches is drawn once for all of them.
    label, curve = "lora lr=1e-02", [(1, 2.0), (2, 1.5)]

    def watching(session, *args):
        for _ in range(300):
            yield ("wait", label, "Run 1 of 1: step 2/12, loss 1.5000", list(curve)), [("lora", None, 1e-2)]

    monkeypatch.setattr(finetune, "run_plan", watching)
    monkeypatch.setattr(finetune, "UI_INTERVAL_S", 0.0)
    monkeypatch.setattr(finetune, "PLOT_INTERVAL_S", 0.0)
    seen = [list(finetune.on_finetune(STORE.get(None).key, ["lora"], "", "1e-3", 2, 4, 4, 1,
                                      progress=lambda *a, **k: None)) for _ in range(2)]
    for messages in seen:
        assert len(messages) == 2  # the first look, then the final one
        assert [trace.y for trace in messages[0][1].data] == [(2.0, 1.5)]
    assert seen[0][0][1] is seen[1][0][1]  # one figure for both sessions


def test_stop_really_stops_a_finetune(ready):
    session = STORE.get(None)
    session.model_name, session.data, session.max_length = ready.model_name, ready.data, ready.max_length
    session.statistics = ready.statistics
    seen = None
    for event, _ in finetune.run_plan(session, ["lora"], "", "1e-3", 200, 2, 8, 1):
        if event[0] == "wait" and event[3] and seen is None:  # training has begun
            seen = len(event[3])
            finetune.on_stop(session.key)
    run = session.runs["lora lr=1e-02"]
    # The worker may finish the step it is in while the stop request travels: a few steps, never all 200.
    assert run.metrics["steps"] <= seen + 5 and run.metrics["stopped_early"] is True
    # A run stopped early is the asker's only: nobody else is handed it as if it were the whole run.
    assert shared.RESULTS.peek("run", shared.run_fields(session.model_name, session.data, "lora", None, 1e-2, {
        **finetune.default_settings(session.max_length), "steps": 200, "rank": 2, "batch_size": 8, "max_eval": 1}),
        shared.RUN) is None


def test_finetune_settings_are_checked(ready):
    with pytest.raises(SCLoRAError, match="Unknown method"):
        list(finetune.run_plan(ready, ["nope"], "", "1e-3", 2, 4, 4, 1))
    with pytest.raises(SCLoRAError, match="Learning rates"):
        list(finetune.run_plan(ready, ["lora"], "", "fast", 2, 4, 4, 1))
    with pytest.raises(SCLoRAError, match="Load the data"):
        list(finetune.run_plan(STORE.get(None), ["lora"], "", "1e-3", 2, 4, 4, 1))
    with pytest.raises(SCLoRAError, match="LoRA factor must be a number > 0"):
        list(finetune.run_plan(ready, ["lora"], "", "1e-3", 2, 4, 4, 1, lora_factor=0))


def test_the_servers_limits_are_checked_with_what_to_change(ready, monkeypatch):
    monkeypatch.setattr(finetune, "MAX_RUNS_PER_CLICK", 2)
    with pytest.raises(SCLoRAError, match=r"has 3 runs; this server runs at most 2 per click \(SCLORA_MAX_RUNS\)"):
        list(finetune.run_plan(ready, ["lora"], "", "1e-3, 2e-3, 3e-3", 2, 4, 4, 1))
    monkeypatch.setattr(finetune, "MAX_STEPS_CPU", 5)
    monkeypatch.setattr(finetune.torch.cuda, "is_available", lambda: False)
    with pytest.raises(SCLoRAError, match=r"at most 5 steps per run on its CPU \(SCLORA_MAX_STEPS_CPU\)"):
        list(finetune.run_plan(ready, ["lora"], "", "1e-3", 6, 4, 4, 1))


def test_generations_side_by_side(trained):
    prompts = generations.heldout_prompts(trained)
    assert len(prompts.splitlines()) == 2 * generations.HELDOUT_PER_SET
    table = generations.generate_table(trained, "What is 2 + 2?\nName a colour.", list(trained.runs), 4)
    assert list(table.columns) == ["prompt", "base", *trained.runs]
    assert len(table) == 2
    computed = shared.RESULTS.computed  # the same adapters, prompts and length: answered once per server
    assert generations.generate_table(trained, "What is 2 + 2?\nName a colour.", list(trained.runs), 4).equals(table)
    assert shared.RESULTS.computed == computed
    with pytest.raises(SCLoRAError, match="You have no run named"):
        generations.generate_table(trained, "hi", ["ghost"], 4)


def test_generation_cards_mark_what_a_run_forgot_and_learned():
    import pandas as pd

    table = pd.DataFrame({"prompt": ["Capital of France?", "2 + 3?", "Say <b>hi</b>"],
                          "base": ["Paris.", "It is 4. The answer is 4.", "hi"],
                          "lora lr=1e-02": ["Lyon.", "2 + 3 = 5. The answer is 5.", "hello"]})
    known = {"Capital of France?": ("preserve", "Paris", "exact"), "2 + 3?": ("finetune", "The answer is 5.", "math")}
    html = generations.cards(table, known)
    assert html.count('class="card"') == 3
    assert '<div class="answer right"><div class="who">Base model · right</div>Paris.</div>' in html
    assert '<div class="who">lora lr=1e-02 · forgotten</div>Lyon.' in html
    assert '<div class="who">lora lr=1e-02 · learned</div>2 + 3 = 5.' in html
    assert "reference: Paris" in html and "Say &lt;b&gt;hi&lt;/b&gt;" in html  # unknown prompt: no mark, escaped
    assert '<div class="answer "><div class="who">Base model</div>hi</div>' in html


def test_the_default_prompts_are_the_held_out_prompts_of_the_default_data(ready):
    session = STORE.get(None)
    data.load(session, MODEL, data.DEFAULT_FINETUNE, data.DEFAULT_PRESERVE, data.DEFAULT_SAMPLES, data.DEFAULT_LENGTH)
    assert generations.heldout_prompts(session).splitlines() == generations.default_prompts()
    assert set(generations.default_prompts()) <= set(generations.references(session))


def test_export_zips_adapter_record_and_plots(trained):
    out = export.export(trained, "sclora β=0.5 lr=1e-03")
    with zipfile.ZipFile(out["adapter"]) as z:
        assert set(z.namelist()) == {"adapter_config.json", "adapter_model.safetensors"}
    with zipfile.ZipFile(out["record"]) as z:
        assert {"config.json", "metrics.json", "loss.csv", "generations.jsonl"} <= set(z.namelist())
    with zipfile.ZipFile(out["plots"]) as z:
        names = set(z.namelist())
        assert {"measured_tradeoff.html", "loss_curves.html"} <= names
        if shutil.which("chromium"):  # installed by .ci/run: PNG too, and real PNG files
            assert out["note"] is None and {"measured_tradeoff.png", "loss_curves.png"} <= names
            assert z.read("loss_curves.png")[:8] == b"\x89PNG\r\n\x1a\n"
        else:
            assert "PNG not written" in out["note"]
    assert "PeftModel.from_pretrained" in out["snippet"] and "LoRA rank 8" in out["snippet"]  # residual: 2r, r = 4
    with pytest.raises(SCLoRAError, match="You have no run named"):
        export.export(trained, "ghost")


def test_sessions_are_isolated_and_expire(tmp_path):
    store = SessionStore(ttl_s=60, root=tmp_path)
    a, b = store.get(None), store.get(None)
    a.runs["x"] = object()
    assert a.key != b.key and b.runs == {} and store.get(a.key) is a
    a.last_used -= 120  # idle past the time-to-live
    assert store.expire() == [a.key]
    assert not a.folder.exists() and a.stop.is_set() and len(store) == 1
    store.drop(b.key)
    assert len(store) == 0


def test_non_uniqueness_toast_is_shown_once_per_session(ready, monkeypatch):
    shown = []
    monkeypatch.setattr(subspace.gr, "Warning", shown.append)
    ready.shown_warnings.clear()
    for beta in (0.5, 0.6, 0.7):
        summary = list(subspace.on_update(ready.key, beta, 4, 0, "o_proj"))[-1][0]
        assert "not unique" in summary  # the summary always says it
    assert len(shown) == 1 and "not unique" in shown[0]


def test_concurrent_identical_sweeps_are_computed_once(ready, monkeypatch):
    calls = []
    original = shared.solve_table

    def counted(stats, ranks, betas, **kwargs):
        calls.append(list(betas))
        time.sleep(0.5)  # long enough for every thread to ask while it runs
        return original(stats, ranks, betas, **kwargs)

    monkeypatch.setattr(shared, "solve_table", counted)
    sessions = [ready] + [STORE.get(None) for _ in range(2)]
    for other in sessions[1:]:  # other sessions with the same data: they share results, not state
        data.load(other, MODEL, "math", "knowledge", SAMPLES, LENGTH, RECORDS)
        covariances.compute(other)
        assert other.statistics is ready.statistics
    tables = [None] * 6
    threads = [threading.Thread(target=lambda i=i: tables.__setitem__(i, covariances.sweep(
        sessions[i % 3], 3, [0.15, 0.45]))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(calls) == [[0.15], [0.45]]  # each new β solved once for all six requests
    for table in tables:
        assert len(table) == 2 * len(ready.statistics.modules) and set(table["rank"]) == {3}
        assert table.equals(tables[0])


def test_dropped_session_frees_its_statistics(tmp_path):
    """Memory comes back: nothing keeps a dropped session's statistics alive."""
    import gc
    import weakref

    from sclora.models import tiny_model
    from sclora.statistics import collect_statistics

    store = SessionStore(ttl_s=60, root=tmp_path)
    session = store.get(None)
    model, _ = tiny_model("tiny-llama")
    session.statistics = collect_statistics(model, [[5, 6, 7]] * 4, [[8, 9]] * 4)
    session.statistics.attach_model(None)
    alive = weakref.ref(session.statistics)
    key = session.key
    del session
    store.drop(key)
    gc.collect()
    assert alive() is None and len(store) == 0


def test_identical_runs_are_shared_not_trained_again(trained, monkeypatch):
    """Another session with the same data asking the same runs gets copies of the finished ones, at once."""
    monkeypatch.setattr(engine, "run_one", lambda *a, **k: pytest.fail("trained again"))
    other = STORE.get(None)
    data.load(other, MODEL, "math", "knowledge", SAMPLES, LENGTH, RECORDS)
    events = [e for e, _ in finetune.run_plan(other, ["lora", "sclora"], "0.5", "1e-3", 2, 4, 4, 1)]
    assert [e[0] for e in events].count("run") == 2
    for label, run in other.runs.items():
        mine = trained.runs[label]
        assert run.metrics == mine.metrics and run.loss_rows == mine.loss_rows
        assert run.path.is_relative_to(other.folder) and (run.path / "adapter" / "adapter_model.safetensors").is_file()
    # Other settings are other runs: they train.
    monkeypatch.undo()
    computed = shared.RESULTS.computed
    events = [e for e, _ in finetune.run_plan(other, ["lora"], "", "1e-3", 3, 4, 4, 1)]
    assert events[-1][1].metrics["steps"] == 3 and shared.RESULTS.computed == computed + 1


def test_runs_of_different_sessions_take_turns_run_by_run(ready):
    """A long plan does not hold another session back for its whole length: runs alternate."""
    first, second = STORE.get(None), STORE.get(None)
    for session in (first, second):
        session.model_name, session.data, session.max_length = ready.model_name, ready.data, ready.max_length
    finished = []

    def plan(session, lrs):
        for event, _ in finetune.run_plan(session, ["lora"], "", lrs, 4, 4, 4, 1):
            if event[0] == "run":
                finished.append((session.key, event[1].label))

    long = threading.Thread(target=plan, args=(first, "1.1e-3, 1.2e-3, 1.3e-3, 1.4e-3"))
    long.start()
    assert wait_until(lambda: len(finished) >= 1 or shared.RESULTS.work._running)
    plan(second, "1.5e-3")
    long.join()
    order = [key for key, _ in finished]
    assert order.index(second.key) <= 2, finished  # behind the run going and at most one more, never all four


def test_the_server_prepares_the_default_walkthrough_and_sessions_reuse_it():
    from explorer import prepare

    prepare.prepare_defaults(MODEL)
    assert prepare.status() == {"state": "done", "error": None}
    computed = shared.RESULTS.computed
    session = STORE.get(None)
    data.load(session, MODEL, data.DEFAULT_FINETUNE, data.DEFAULT_PRESERVE, data.DEFAULT_SAMPLES, data.DEFAULT_LENGTH)
    covariances.compute(session)
    out = subspace.update(session, 0.9, covariances.DEFAULT_RANK, None, None)
    assert "β = 0.9" in out["summary"] and len(out["angles"].data) == 4
    # Tab 4's default comparison is prepared too: the room's first click trains nothing.
    events = [e for e, _ in finetune.run_plan(session, finetune.DEFAULT_METHODS, finetune.DEFAULT_BETAS,
                                              finetune.DEFAULT_LRS, finetune.DEFAULT_STEPS, finetune.DEFAULT_RANK,
                                              finetune.DEFAULT_BATCH, finetune.DEFAULT_MAX_EVAL)]
    assert [e[1].label for e in events if e[0] == "run"] == [finetune.run_label(*run) for run in finetune.default_plan()]
    # And tab 5's default answers for those runs.
    generations.generate_table(session, "\n".join(generations.default_prompts()), list(session.runs),
                               generations.DEFAULT_MAX_NEW_TOKENS)
    assert shared.RESULTS.computed == computed  # statistics, β grid, angles, runs and answers: all prepared


def test_eigensolves_in_a_worker_thread_use_one_thread_and_restore_the_count():
    import torch

    seen = []

    def work():
        with shared.one_thread_off_the_main_thread():
            seen.append(torch.get_num_threads())
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert seen == [1 if before > 1 else before, before] and torch.get_num_threads() == before
    with shared.one_thread_off_the_main_thread():  # the main thread keeps every thread
        assert torch.get_num_threads() == before


def test_a_page_load_copies_no_session():
    # Gradio deep-copies the app's config for every page load and client; anything reachable from it is copied
    # too. A room of new connections once copied every session's statistics that way, until memory ran out.
    from explorer.app import build_app
    from explorer.session import SessionStore

    found = []

    def walk(obj, seen):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, SessionStore):
            found.append(obj)
        elif isinstance(obj, dict):
            for value in obj.values():
                walk(value, seen)
        elif isinstance(obj, (list, tuple)):
            for value in obj:
                walk(value, seen)
        elif hasattr(obj, "__self__"):
            walk(obj.__self__, seen)

    walk(build_app("tiny-llama").config, set())
    assert not found, "the app's config reaches the session store"
