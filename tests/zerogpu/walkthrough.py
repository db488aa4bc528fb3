"""The app's walkthrough with every ``@engine.gpu`` function in a forked, pickling worker (see spaces/).

Run by tests/test_zerogpu.py as ``PYTHONPATH=tests/zerogpu:. python tests/zerogpu/walkthrough.py``;
prints one JSON line that the test checks.
"""

from __future__ import annotations

import json
import os
import warnings

os.environ["SPACES_ZERO_GPU"] = "1"
os.environ["SCLORA_RESULTS_CACHE"] = "off"  # every GPU function really runs (nothing read back from disk)
warnings.simplefilter("ignore")

import spaces  # noqa: E402 - the stand-in, before anything touches torch

from explorer import engine  # noqa: E402
from explorer.session import STORE  # noqa: E402
from explorer.tabs import covariances, data, finetune, generations, subspace  # noqa: E402

MODEL = "tiny-llama"
engine.set_default_model(MODEL)


def loaded():
    session = STORE.get(None)
    data.load(session, MODEL, "math", "knowledge", 8, 256, 20)
    return session


def main() -> None:
    out = {"out_of_process": engine.gpu_out_of_process()}
    session = loaded()
    covariances.compute(session)
    out["statistics_modules"] = len(session.statistics.modules)
    view = subspace.update(session, 0.9, 4, 1, "q_proj")
    out["angle_methods"] = sorted(t.name for t in view["angles"].data)
    events = [e for e, _ in finetune.run_plan(session, ["lora", "sclora"], "0.5", "1e-3", 2, 4, 4, 1, lora_factor=1)]
    out["events"] = [e[0] for e in events]
    out["curves"] = [len(e[1].loss_rows) for e in events if e[0] == "run"]
    out["runs"] = sorted(session.runs)
    table = generations.generate_table(session, "What is 2 + 2?", list(session.runs), 6)
    out["generation_columns"] = list(table.columns)

    # Stop crosses the process boundary: the flag is set here, the worker trains there.
    other = loaded()
    for event, _ in finetune.run_plan(other, ["lora"], "", "1e-3", 200, 4, 4, 1, lora_factor=1):
        if event[0] == "wait" and event[3]:  # steps reported from the worker: training is under way
            other.stop.set()
    run = next(iter(other.runs.values()))
    out["stopped_run"] = {"stopped_early": bool(run.metrics.get("stopped_early")), "steps": run.metrics["steps"]}
    out["gpu_calls"] = spaces.calls
    print(json.dumps(out))


if __name__ == "__main__":
    main()
