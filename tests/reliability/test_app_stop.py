"""Stop, in-process through the tab handlers: the session stays usable and keeps what was finished."""

from __future__ import annotations

import warnings
import zipfile

import pytest


@pytest.fixture(scope="module")
def session():
    from explorer import engine
    from explorer.session import STORE
    from explorer.tabs import data

    engine.set_default_model("tiny-llama")
    warnings.filterwarnings("ignore", category=UserWarning)
    s = STORE.get(None)
    data.load(s, "tiny-llama", "math", "knowledge", 8, 256, 20)
    yield s
    STORE.drop(s.key)


def test_stop_during_covariances_then_compute_again(session, monkeypatch):
    import time

    from explorer import engine
    from explorer.tabs import covariances
    from sclora.statistics import StoppedError

    original = engine.collect_statistics

    def slow(*args, progress=None, **kwargs):  # batches that take a while, so Stop lands during the pass
        def report(*a):
            time.sleep(0.3)
            progress(*a)
        return original(*args, progress=report, **kwargs)

    monkeypatch.setattr(engine, "collect_statistics", slow)

    def progress(done, total, desc):
        covariances.on_stop(session.key)  # the Stop button, pressed while the statistics are computed

    from explorer.tabs import data

    data.load(session, "tiny-llama", "math", "knowledge", 6, 256, 20)  # data no other test computed statistics for

    with pytest.raises(StoppedError):
        covariances.compute(session, progress)
    assert session.statistics is None
    status = covariances.compute(session)
    assert status.startswith("14 modules, 6 + 6 samples") and session.statistics is not None
    assert not session.stop.is_set()  # the new job has its own, unset, stop flag
    data.load(session, "tiny-llama", "math", "knowledge", 8, 256, 20)  # the data the other tests expect


def test_stop_during_a_finetune_keeps_finished_runs(session):
    from explorer.tabs import export, finetune

    kinds = []
    for event, _ in finetune.run_plan(session, ["lora"], "", "1e-3, 2e-3", 150, 2, 2, 1, lora_factor=1):
        kinds.append(event[0])
        if event[0] == "wait" and event[3] and kinds.count("run") == 1:  # the second run is training
            finetune.on_stop(session.key)
    first, second = session.runs["lora lr=1e-03"], session.runs["lora lr=2e-03"]
    assert first.metrics["steps"] == 150 and not first.metrics["stopped_early"]
    assert second.metrics["stopped_early"] and second.metrics["steps"] < 150
    # The finished run exports; a new fine-tune in the same session runs to the end.
    out = export.export(session, "lora lr=1e-03")
    with zipfile.ZipFile(out["adapter"]) as zf:
        assert sorted(zf.namelist()) == ["adapter_config.json", "adapter_model.safetensors"]
    events = [e[0] for e, _ in finetune.run_plan(session, ["lora"], "", "3e-3", 2, 2, 2, 1, lora_factor=1)]
    assert events.count("run") == 1 and session.runs["lora lr=3e-03"].metrics["steps"] == 2
