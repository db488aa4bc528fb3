"""Start ``python app.py --model tiny-llama`` as a subprocess on a free port, for gradio_client tests."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ._util import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """The app in its own process; ``tmp`` is its TMPDIR, so its session folders can be inspected."""

    def __init__(self, tmp: Path, **env: str):
        self.tmp = Path(tmp)
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = open(self.tmp / "server.log", "w")
        environment = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
                       "TMPDIR": str(self.tmp), "GRADIO_TEMP_DIR": str(self.tmp / "gradio"), "HF_HUB_OFFLINE": "1",
                       "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1", **env}
        environment.pop("SCLORA_ALLOW_LOCAL_MODELS", None)
        self.proc = subprocess.Popen([sys.executable, "app.py", "--model", "tiny-llama"], cwd=ROOT, env=environment,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> "AppServer":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"the app did not start within {timeout} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return (self.tmp / "server.log").read_text(errors="replace")

    def session_folders(self) -> list[Path]:
        """One folder per live session (explorer.session.SessionStore under the server's TMPDIR)."""
        return sorted(p for root in self.tmp.glob("sclora-sessions-*") for p in root.iterdir() if p.is_dir())

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# The app of test_app_sessions.py, started once per test run (see conftest.py: it boots while other tests run).
_STARTED: dict[str, AppServer] = {}


def start_app() -> AppServer:
    """``app.py --model tiny-llama`` with a queue of 4, started once and not waited for."""
    if not _STARTED:
        root = Path(tempfile.mkdtemp(prefix="sclora-reliability-app-"))
        _STARTED["main"] = AppServer(root, SCLORA_QUEUE_SIZE="4", SCLORA_SESSION_TTL="900")
    return _STARTED["main"]


def stop_app() -> None:
    for app in _STARTED.values():
        app.stop()
        shutil.rmtree(app.tmp, ignore_errors=True)
    _STARTED.clear()
