"""The Fine-tune tab for a room: gradio_client sessions clicking Fine-tune (tab 4) with the tab's own defaults.

Scenarios (``python -m benchmarks.workshop --scenario …``), each on a fresh server that prepares the defaults from
its start (as it does by default), its sessions clicking as soon as they have loaded the default data:
- ``finetune-fresh``: one session; seconds from the click to the first finished run in its table and to the
  whole plan. The reference of the others: what one person waits for.
- ``finetune-room``: K sessions at once (K = 4, 16); each session's seconds to its whole table, then the same
  room once more on the server that has everything prepared.
- ``finetune-betas``: 4 sessions at once, each with its own β: each one's first run and whole plan, and the
  longest wait.
"""

from __future__ import annotations

import threading
import time

from explorer.tabs import finetune

from .measure import in_threads

# The tab's inputs in the endpoint's order, with the tab's defaults.
PLAN = [finetune.DEFAULT_METHODS, finetune.DEFAULT_BETAS, finetune.DEFAULT_LRS, finetune.DEFAULT_STEPS,
        finetune.DEFAULT_RANK, finetune.DEFAULT_BATCH, finetune.DEFAULT_MAX_EVAL, finetune.DEFAULT_LORA_FACTOR]
OTHER_BETAS = ("0.5", "0.7", "0.8", "0.95")


def _runs(table: dict) -> list[str]:
    return [row[0] for row in table.get("data", []) if row and row[0]]


def loaded(url: str, default: dict):
    """A new session (a gradio_client Client) with the default data loaded."""
    from gradio_client import Client

    # A room connecting at once to a busy two-core server can take longer than the client's 5 s default.
    client = Client(url, verbose=False, httpx_kwargs={"timeout": 120})
    client.predict(default["model"], "math", None, "knowledge", None, default["samples"], default["length"],
                   default["records"], api_name="/load_data")
    return client


def click_finetune(url: str, default: dict, betas: str = finetune.DEFAULT_BETAS, start_at: threading.Event | None = None
                   ) -> dict:
    """One session: connect, load the default data, then (at ``start_at``) click Fine-tune with the tab's defaults.

    Seconds from the click to the first run in its table and to the whole plan; the queue lines it was shown."""
    client = loaded(url, default)
    if start_at is not None:
        start_at.wait()
    started, first, waiting = time.monotonic(), None, []
    job = client.submit(*PLAN[:1], betas, *PLAN[2:], api_name="/finetune")
    for status, _, table, _, _ in job:
        if first is None and _runs(table):
            first = time.monotonic() - started
        if "ahead of yours" in status and status not in waiting:
            waiting.append(status)
    status, _, table, _, changes = job.outputs()[-1]
    plan_s = time.monotonic() - started
    runs = _runs(table)
    expected = len(finetune.plan_runs(PLAN[0], [float(betas)], [float(PLAN[2])], PLAN[7]))
    if not status.startswith(f"Done: {expected} run(s)") or len(runs) != expected:
        raise RuntimeError(f"the fine-tune did not finish as expected: {status!r}, runs {runs}")
    return {"betas": betas, "first_run_s": first if first is not None else plan_s, "plan_s": plan_s, "runs": runs,
            "changes_listed": len(changes.get("data", [])), "waiting_lines": waiting[:3],
            "table": {"headers": table["headers"], "data": table["data"]}}


def at_once(url: str, default: dict, betas: list[str]) -> list[dict]:
    """One session per β, all clicking at the same moment; their measurements."""
    go = threading.Event()

    def start() -> None:
        time.sleep(2 + 0.2 * len(betas))  # every session connected and loaded its data
        go.set()

    return in_threads([lambda b=b: click_finetune(url, default, b, go) for b in betas], started=start)


def fresh(url: str, default: dict) -> dict:
    one = click_finetune(url, default)
    return {"per_session": [one], "first_run_s": one["first_run_s"], "plan_s": one["plan_s"]}


def room(url: str, default: dict, sessions: int) -> dict:
    """``sessions`` click the default plan at once on the fresh server, then again once it has everything."""
    per = at_once(url, default, [finetune.DEFAULT_BETAS] * sessions)
    again = at_once(url, default, [finetune.DEFAULT_BETAS] * sessions)
    return {"per_session": per, "last_table_s": max(p["plan_s"] for p in per),
            "max_first_run_s": max(p["first_run_s"] for p in per),
            "prepared_last_table_s": max(p["plan_s"] for p in again)}


def betas(url: str, default: dict) -> dict:
    """4 sessions at once, each with its own β (its SC-LoRA run is nobody else's)."""
    per = at_once(url, default, list(OTHER_BETAS))
    return {"per_session": per, "max_first_run_s": max(p["first_run_s"] for p in per),
            "max_plan_s": max(p["plan_s"] for p in per), "min_plan_s": min(p["plan_s"] for p in per)}


def block_lines(runs: list[dict]) -> list[str]:
    """The benchmark page's lines for the fine-tune scenarios of one model (ratios against ``finetune-fresh``)."""
    names = {(s["scenario"], s["sessions"]): s for s in runs}
    one = names.get(("finetune-fresh", 1))
    if one is None:
        return []
    plan = ", ".join(finetune.run_label(*r) for r in finetune.default_plan())
    lines = ["", f"Fine-tune tab, its default plan ({plan}; {finetune.DEFAULT_STEPS} steps of "
             f"{finetune.DEFAULT_BATCH} samples), clicked as soon as the data is loaded on a fresh server that "
             "prepares the defaults:", "", "| scenario | sessions | first run | whole plan (last session) | "
             "× one session |", "|---|---|---|---|---|",
             f"| one session | 1 | {one['first_run_s']:.0f} s | {one['plan_s']:.0f} s | 1.00× |"]
    for s in sorted((s for s in runs if s["scenario"] == "finetune-room"), key=lambda s: s["sessions"]):
        lines.append(f"| a room on the default plan (once everything is prepared: every table within "
                     f"{s['prepared_last_table_s']:.1f} s) | {s['sessions']} | {s['max_first_run_s']:.0f} s at most | "
                     f"{s['last_table_s']:.0f} s | {s['last_table_s'] / one['plan_s']:.2f}× |")
    for s in (s for s in runs if s["scenario"] == "finetune-betas"):
        lines.append(f"| each session its own β ({', '.join(OTHER_BETAS)}) | {s['sessions']} | "
                     f"{s['max_first_run_s']:.0f} s at most ({s['max_first_run_s'] / one['first_run_s']:.2f}×) | "
                     f"{s['min_plan_s']:.0f} s to {s['max_plan_s']:.0f} s | {s['max_plan_s'] / one['plan_s']:.2f}× |")
    table = one["per_session"][0].get("table")
    if table:  # what that session read: the default comparison itself
        lines += ["", "The default plan's results table, as that session got it:", "",
                  "| " + " | ".join(table["headers"]) + " |", "|" + "---|" * len(table["headers"])]
        lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in table["data"]]
    return lines
