"""ZeroGPU's contract, emulated: every ``@engine.gpu`` function runs in a forked worker that gets its
arguments and returns its results pickled (tests/zerogpu/spaces), and the walkthrough still works:
statistics, principal angles (CorDA's partial forwards), fine-tuning with live events, generations,
and a Stop set in the server process that the worker sees."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_functions_take_and_return_only_what_pickles():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests" / "zerogpu"), str(ROOT)])}
    # Own process group: a hung forked worker must not outlive the test or hold its pipes open.
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "zerogpu" / "walkthrough.py")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    timer = threading.Timer(420, lambda: os.killpg(proc.pid, signal.SIGKILL))
    timer.start()
    try:
        stdout, stderr = proc.communicate()
    finally:
        timer.cancel()
    assert proc.returncode == 0, stderr[-3000:]
    out = json.loads(stdout.strip().splitlines()[-1])
    assert out["out_of_process"] is True
    assert out["gpu_calls"][:1] == ["collect"] and "train_run" in out["gpu_calls"]
    assert out["gpu_calls"].count("evaluate_base") == 1  # shared by both sessions (same data and settings)
    assert "side_by_side" in out["gpu_calls"] and out["gpu_calls"].count("output_directions") == 4
    assert out["statistics_modules"] == 14
    assert out["angle_methods"] == [f"SC-LoRA vs {m}" for m in ("corda-ipm", "corda-kpm", "milora", "pissa")]
    assert out["events"].count("run") == 2 and "before" in out["events"] and out["curves"] == [2, 2]
    assert out["runs"] == ["lora lr=1e-03", "sclora β=0.5 lr=1e-03"]
    assert out["generation_columns"] == ["prompt", "base", *out["runs"]]
    # Stop was set once the worker had reported steps; it ended the run within a few steps and kept it.
    assert out["stopped_run"]["stopped_early"] and out["stopped_run"]["steps"] < 100


def test_the_stand_in_refuses_what_zerogpu_refuses():
    """The stand-in is strict where spaces is: a thread event (the old stop flag) does not pickle."""
    sys.path.insert(0, str(ROOT / "tests" / "zerogpu"))
    try:
        import spaces
    finally:
        sys.path.pop(0)
        sys.modules.pop("spaces", None)  # the app in this process must not pick the stand-in up
    stop = threading.Event()
    with pytest.raises(TypeError, match="pickle"):
        spaces.GPU(duration=10)(lambda should_stop: should_stop())(stop.is_set)
    from explorer.session import StopFlag

    flag = StopFlag(ROOT / "tests")
    assert spaces.GPU(duration=10)(_flag_state)(flag.is_set) is False


def _flag_state(should_stop):
    return should_stop()
