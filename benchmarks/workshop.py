"""A room at once: K gradio_client sessions start the default walkthrough right after the app starts.

    python -m benchmarks.workshop --sessions 16           # one scenario, merged into benchmarks/workshop.json
    python -m benchmarks.workshop --all                   # K = 1, 4, 16, the lone-session baseline, mixed load

Each scenario starts ``python app.py`` afresh with an empty shared-results folder (the model cache stays
warm), so nothing is computed before it. Every session connects, loads the default data (tab 1),
computes the covariances (tab 2) and opens the β tab (tab 3); the seconds of each step, the time at
which its β tab was ready and the wall time are written to the JSON, with the machine, versions and commit.

Scenarios:
- ``room``: K default sessions; the server prepares the defaults from the start (as it does by default).
- ``alone``: one session, the server preparing nothing: what one person needs for a setting nobody computed.
- ``mixed``: 4 sessions with 4 different settings computing while another client asks the base model a
  question every few seconds; the answer latencies and a new client's connection time are recorded.
- ``finetune-fresh``, ``finetune-room``, ``finetune-betas``: the Fine-tune tab (``benchmarks.finetune_room``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from . import finetune_room
from .measure import ROOT, git_commit, in_threads, machine, now, versions

OUT = ROOT / "benchmarks" / "workshop.json"
START, END = "<!-- workshop:start -->", "<!-- workshop:end -->"
HEATMAP_METRIC = "e− (share of C− energy touched)"
FINETUNE = ("finetune-fresh", "finetune-room", "finetune-betas")
ALONE = ("alone", "finetune-fresh")  # scenarios of one session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py`` on a free port with its own shared-results folder; its start-up is timed."""

    def __init__(self, model: str, prepare: bool, results_dir: Path, log: Path, ttl_s: float | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "GRADIO_SERVER_PORT": str(self.port), "GRADIO_SERVER_NAME": "127.0.0.1",
               "SCLORA_RESULTS_CACHE": str(results_dir), "SCLORA_PREPARE": "1" if prepare else "0",
               "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        if ttl_s is not None:
            env["SCLORA_SESSION_TTL"] = str(ttl_s)
        self.log = open(log, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "app.py", "--model", model], cwd=ROOT, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout_s: float = 600) -> float:
        """Seconds from the process start to the first answered page."""
        deadline = self.started + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(self.url + "config", timeout=2) as r:
                    if r.status == 200:
                        return time.monotonic() - self.started
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the app did not answer within {timeout_s} s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def walkthrough(url: str, model: str, samples: int, length: int, records: int, t0: float) -> dict:
    """One session: connect, load data, covariances, β tab; seconds per step and when the β tab was ready."""
    from gradio_client import Client

    out, start = {}, time.monotonic()
    client = Client(url, verbose=False)
    out["connect_s"] = time.monotonic() - start
    steps = (("load_s", lambda: client.predict(model, "math", None, "knowledge", None, samples, length, records,
                                               api_name="/load_data")),
             ("covariances_s", lambda: client.predict(None, None, 0.9, 8, HEATMAP_METRIC, api_name="/covariances")),
             ("tradeoff_s", lambda: client.predict(0.9, 8, None, None, api_name="/tradeoff")))
    for name, call in steps:
        start = time.monotonic()
        result = call()
        out[name] = time.monotonic() - start
        if name == "tradeoff_s":
            check_summary(result[0])
    out["beta_tab_at_s"] = time.monotonic() - t0
    return out


def check_summary(summary: str) -> None:
    if "At β = 0.9, rank 8" not in summary:
        raise RuntimeError(f"the β tab did not answer as expected: {summary[:200]!r}")


# Sessions that send bad input at the same time as a room: (what they send, a piece of the message they must get).
BAD_INPUTS = (
    ("an upload nested 5,000 levels deep", "nothing was loaded"),
    ("β = 1.5 in the β tab", "greater than maximum value 1"),  # Gradio checks slider ranges itself
    ("rank 0 in the β tab", "less than minimum value 1"),
    ("a model name that is no hub id", "hub id"),
)


def bad_session(url: str, kind: int, default: dict) -> dict:
    """One session sending one of BAD_INPUTS; the message it got back."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    what, expected = BAD_INPUTS[kind]
    args = (default["samples"], default["length"], default["records"])
    try:
        if kind == 0:
            bad = ROOT / "tests" / "data" / "bad" / "json_deep_nesting.json"
            message = client.predict(default["model"], "upload", handle_file(str(bad)), "knowledge", None, *args,
                                     api_name="/load_data")[1]
        elif kind == 3:
            client.predict("not a model!", "math", None, "knowledge", None, *args, api_name="/load_data")
            message = "accepted"
        else:
            client.predict(default["model"], "math", None, "knowledge", None, *args, api_name="/load_data")
            client.predict(1.5 if kind == 1 else 0.9, 0 if kind == 2 else 8, None, None, api_name="/tradeoff")
            message = "accepted"
    except Exception as exc:  # the app's error for the sending session
        message = str(exc)
    return {"sent": what, "message": message[:300], "got_its_message": expected.lower() in message.lower()}


def run_sessions(url: str, configs: list[dict], t0: float) -> list[dict]:
    return in_threads([lambda c=c: {**c, **walkthrough(url, t0=t0, **c)} for c in configs])


def scenario(name: str, sessions: int, args) -> dict:
    """Start a fresh server, run the scenario, stop the server; the measurements."""
    with tempfile.TemporaryDirectory(prefix="sclora-workshop-") as tmp:
        server = Server(args.model, prepare=name in ("room", "bad") or name.startswith("finetune"),
                        results_dir=Path(tmp) / "results",
                        log=Path(tmp) / "server.log", ttl_s=args.ttl if name == "bad" else None)
        try:
            ready_s = server.wait_ready()
            t0 = time.monotonic()
            default = {"model": args.model, "samples": args.samples, "length": args.length, "records": args.records}
            if name == "finetune-fresh":
                out = finetune_room.fresh(server.url, default)
            elif name == "finetune-room":
                out = finetune_room.room(server.url, default, sessions)
            elif name == "finetune-betas":
                out = finetune_room.betas(server.url, default)
            elif name == "mixed":
                out = mixed(server.url, default, t0)
            elif name == "bad":
                out = with_bad_inputs(server, default, sessions, args.ttl)
            else:
                per = run_sessions(server.url, [default] * sessions, t0)
                out = {"per_session": per, "wall_s": time.monotonic() - t0,
                       "last_beta_tab_s": max(p["beta_tab_at_s"] for p in per),
                       "max_connect_s": max(p["connect_s"] for p in per)}
        except Exception:
            sys.stderr.write(Path(tmp, "server.log").read_text(errors="replace")[-5000:])
            raise
        finally:
            server.stop()
    return {"scenario": name, "sessions": sessions, "date": now(), "git": git_commit(), "machine": machine(),
            "server_ready_s": ready_s, **out,
            "settings": {"model": args.model, "samples": args.samples, "length": args.length,
                         "records": args.records}}


def mixed(url: str, default: dict, t0: float) -> dict:
    """4 sessions with 4 different sample counts compute; meanwhile the base model is asked and a client connects."""
    from gradio_client import Client

    configs = [dict(default, samples=max(8, default["samples"] // 4 + 8 * i)) for i in range(4)]
    done = threading.Event()
    answers: list[float] = []
    box: dict = {}

    def room() -> None:
        try:
            box["per_session"] = run_sessions(url, configs, t0)
        except Exception as exc:  # re-raised below
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=room)
    worker.start()
    asker = Client(url, verbose=False)
    time.sleep(5)  # let the four computations start
    start = time.monotonic()
    Client(url, verbose=False)
    connect_s = time.monotonic() - start
    while not done.is_set():
        start = time.monotonic()
        answer = asker.predict("What is the capital of France?", 16, api_name="/answer")
        answers.append(time.monotonic() - start)
        if not answer:
            raise RuntimeError("the base model gave no answer")
        done.wait(3)
    worker.join()
    if "error" in box:
        raise box["error"]
    return {"per_session": box["per_session"], "wall_s": time.monotonic() - t0, "answer_s": answers,
            "answer_median_s": statistics.median(answers) if answers else None,
            "answer_max_s": max(answers) if answers else None, "connect_while_computing_s": connect_s}


def with_bad_inputs(server: Server, default: dict, sessions: int, ttl_s: float, rounds: int = 2) -> dict:
    """``sessions`` default sessions and 4 bad ones at once, ``rounds`` times; the server's memory before,
    at the peak and after each round: flat after the first round means memory kept for reuse, growth a leak."""
    from .measure import rss_mib

    run_sessions(server.url, [default], time.monotonic())  # the shared results exist: the baseline holds them
    settle_s = ttl_s * 1.5 + 2  # past the time-to-live and the next sweep of the session reaper
    time.sleep(settle_s)  # that session expired
    baseline = rss_mib(server.proc.pid)
    peak, sampling = [baseline], threading.Event()

    def sample() -> None:
        while not sampling.wait(0.5):
            peak.append(rss_mib(server.proc.pid))

    def send(bad: list, i: int) -> None:
        try:
            bad[i] = bad_session(server.url, i, default)
        except Exception as exc:  # the client itself failed: recorded as a bad session without its message
            bad[i] = {"sent": BAD_INPUTS[i][0], "message": f"{type(exc).__name__}: {exc}"[:300],
                      "got_its_message": False}

    sampler = threading.Thread(target=sample)
    sampler.start()
    rounds_out = []
    for _ in range(rounds):
        t0 = time.monotonic()
        bad: list[dict | None] = [None] * len(BAD_INPUTS)
        threads = [threading.Thread(target=send, args=(bad, i)) for i in range(len(BAD_INPUTS))]
        for t in threads:
            t.start()
        good = run_sessions(server.url, [default] * sessions, t0)  # raises if any good session failed
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        time.sleep(settle_s)  # every session expired and was dropped
        rounds_out.append({"per_session": good, "bad_sessions": bad, "wall_s": wall,
                           "memory_after_mib": rss_mib(server.proc.pid)})
    sampling.set()
    sampler.join()
    first, every_bad = rounds_out[0], [b for r in rounds_out for b in r["bad_sessions"]]
    return {"per_session": first["per_session"], "bad_sessions": first["bad_sessions"], "wall_s": first["wall_s"],
            "last_beta_tab_s": max(p["beta_tab_at_s"] for p in first["per_session"]),
            "max_connect_s": max(p["connect_s"] for p in first["per_session"]),
            "rounds": rounds, "failed_good_sessions": 0,
            "bad_with_their_message": sum(b["got_its_message"] for b in every_bad),
            "memory_baseline_mib": baseline, "memory_peak_mib": max(peak),
            "memory_after_each_round_mib": [r["memory_after_mib"] for r in rounds_out]}


def merge(path: Path, results: list[dict]) -> dict:
    """Replace the scenarios just measured in the JSON (same scenario, sessions and model), keep the others."""
    data = json.loads(path.read_text()) if path.exists() else {"scenarios": []}
    keys = {(r["scenario"], r["sessions"], r["settings"]["model"]) for r in results}
    kept = [s for s in data.get("scenarios", []) if (s["scenario"], s["sessions"], s["settings"]["model"]) not in keys]
    data["scenarios"] = sorted(kept + results, key=lambda s: (s["settings"]["model"], s["scenario"], s["sessions"]))
    return data


def ratios(data: dict) -> list[dict]:
    """For each model: the last β tab of each room size against one session alone on a cold server."""
    out = []
    for model in sorted({s["settings"]["model"] for s in data["scenarios"]}):
        runs = [s for s in data["scenarios"] if s["settings"]["model"] == model]
        alone = next((s for s in runs if s["scenario"] == "alone"), None)
        for s in runs:
            if s["scenario"] == "room" and alone is not None:
                out.append({"model": model, "sessions": s["sessions"], "last_beta_tab_s": s["last_beta_tab_s"],
                            "alone_s": alone["last_beta_tab_s"],
                            "ratio": s["last_beta_tab_s"] / alone["last_beta_tab_s"]})
    return out


def readme_block(data: dict) -> str:
    """The benchmark page's tables of this JSON (between START and END)."""
    from .report import machine_line, runs_line

    lines = [START, "<!-- Rendered from benchmarks/workshop.json by `make bench-workshop`; do not edit. -->", ""]
    by_model: dict[str, list[dict]] = {}
    for s in data["scenarios"]:
        by_model.setdefault(s["settings"]["model"], []).append(s)
    for model, runs in by_model.items():
        settings = runs[0]["settings"]
        lines += [f"`{model}`, `math` + `knowledge`, {settings['samples']} + {settings['samples']} samples, max length "
                  f"{settings['length']}; each session: connect, /load_data, /covariances, /tradeoff:", "",
                  "| scenario | sessions | server start to first page | slowest connection | last β tab ready "
                  "| × one session alone |", "|---|---|---|---|---|---|"]
        alone = next((s for s in runs if s["scenario"] == "alone"), None)
        names = {"alone": "one session, nothing prepared (a setting nobody computed)",
                 "room": "a room on the default walkthrough (server prepares it from the start)"}
        for s in runs:
            if s["scenario"] not in names:
                continue
            ratio = f"{s['last_beta_tab_s'] / alone['last_beta_tab_s']:.2f}×" if alone else "–"
            lines.append(f"| {names[s['scenario']]} | {s['sessions']} | {s['server_ready_s']:.1f} s | "
                         f"{s['max_connect_s']:.1f} s | {s['last_beta_tab_s']:.1f} s | {ratio} |")
        for s in (s for s in runs if s["scenario"] == "mixed" and s.get("answer_s")):
            lines += ["", f"Mixed load: {s['sessions']} sessions with different sample counts computing statistics "
                      f"(all done after {s['wall_s']:.0f} s) while another client asked the base model a question "
                      f"{len(s['answer_s'])} times: answers in {s['answer_median_s']:.1f} s (median), "
                      f"{s['answer_max_s']:.1f} s at most; a new client connected in "
                      f"{s['connect_while_computing_s']:.1f} s."]
        lines += finetune_room.block_lines(runs)
        for s in (s for s in runs if s["scenario"] == "bad"):
            lines += ["", f"With bad input: on a server whose defaults were computed, {s['sessions']} default sessions and "
                      f"{len(s['bad_sessions'])} sessions sending bad input "
                      f"({'; '.join(b['sent'] for b in s['bad_sessions'])}) at once"
                      f", {s['rounds']} rounds in a row: "
                      f"{s['failed_good_sessions']} good sessions failed, {s['bad_with_their_message']} of "
                      f"{s['rounds'] * len(s['bad_sessions'])} bad ones got their message; last β tab after "
                      f"{s['last_beta_tab_s']:.1f} s. "
                      f"Server memory {s['memory_baseline_mib']:,.0f} MiB before (shared results held), "
                      f"{s['memory_peak_mib']:,.0f} MiB at the peak, "
                      f"{', then '.join(f'{m:,.0f}' for m in s['memory_after_each_round_mib'])}"
                      f" MiB once the sessions of each round expired."]
        last = max(runs, key=lambda s: s["date"])
        runs_by_name = {f"{s['scenario']} ({s['sessions']})": s for s in runs}
        lines += ["", f"Machine: {machine_line({'machine': last['machine'], 'versions': data.get('versions', {})})}. "
                  f"Runs (scenario, sessions): {runs_line(runs_by_name)}.", ""]
    return "\n".join(lines + [END])


def write_readme(readme: Path, data: dict) -> None:
    from .report import rewrite_block

    readme.write_text(rewrite_block(readme.read_text(encoding="utf-8"), readme_block(data), START, END),
                      encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=4, help="K, for the room scenario")
    parser.add_argument("--scenario", choices=("room", "alone", "mixed", "bad", *FINETUNE), default="room")
    parser.add_argument("--all", action="store_true",
                        help="alone, room with K = 1, 4, 16, mixed, 16 sessions beside 4 bad ones, and --finetune")
    parser.add_argument("--finetune", action="store_true", help="the Fine-tune tab's scenarios: " + ", ".join(FINETUNE))
    parser.add_argument("--model", default="bundled")
    parser.add_argument("--samples", type=int, default=256, help="N per set (the app's default)")
    parser.add_argument("--length", type=int, default=256, help="max tokens per sample (the app's default)")
    parser.add_argument("--records", type=int, default=0, help="first records of each set (0 = all)")
    parser.add_argument("--ttl", type=float, default=20.0,
                        help="session time-to-live of the 'bad' scenario's server, so memory can be seen coming back")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--readme", type=Path, default=None,
                        help="page whose workshop block to rewrite (default: docs/benchmarks.md when --out is the default)")
    parser.add_argument("--render", action="store_true", help="only rewrite the docs/benchmarks.md block from the JSON")
    args = parser.parse_args(argv)
    readme = args.readme or (ROOT / "docs" / "benchmarks.md" if args.out == OUT else None)
    if args.render:
        write_readme(readme, json.loads(args.out.read_text()))
        return
    if args.sessions < 1:
        parser.error("--sessions must be at least 1")
    finetune_plan = [("finetune-fresh", 1), ("finetune-room", 4), ("finetune-room", 16), ("finetune-betas", 4)]
    plan = ([("alone", 1), ("room", 1), ("room", 4), ("room", 16), ("mixed", 4), ("bad", 16)] if args.all else
            [] if args.finetune else [(args.scenario, 1 if args.scenario in ALONE else args.sessions)])
    plan += finetune_plan if args.all or args.finetune else []
    results = []
    for name, k in plan:
        print(f"{name}, {k} session(s) ...", flush=True)
        results.append(scenario(name, k, args))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "per_session"}, default=str), flush=True)
    data = merge(args.out, results)
    data.update(machine=machine(), versions=versions(), date=now(), git=git_commit())
    data["ratios"] = ratios(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    if readme is not None:
        write_readme(readme, data)
    for r in data["ratios"]:
        print(f"{r['model']}: {r['sessions']} session(s): last β tab {r['last_beta_tab_s']:.1f} s, "
              f"{r['ratio']:.2f}× one session alone ({r['alone_s']:.1f} s)")


if __name__ == "__main__":
    main()
