"""Render benchmarks/results.json (written by ``benchmarks.run``) to results.md and docs/benchmarks.md's block.

    python -m benchmarks.report                      # re-render results.md and docs/benchmarks.md's block
    python -m benchmarks.report --readme ''          # results.md only

Nothing here measures: every figure comes from the JSON. The block lies between ``<!-- bench:start -->``
and ``<!-- bench:end -->`` of the page (``--readme``) and is replaced whole; its link to results.md is
relative to that page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"  # the page whose block `make bench` rewrites
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# Goals per ratio (ours / reference) and for the warm app start, in seconds.
GOALS = {"covariance": 1.10, "sweep": 1.00, "inits": 0.50, "train": 1.03, "app_warm_s": 10.0}


def _sec(x: float) -> str:
    """Seconds with a precision that suits their size (3 significant figures below 10 s)."""
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}" if x >= 1 else f"{x:.3g}"


def _s(entry: dict) -> str:
    return f"{_sec(entry['median_s'])} s"


def _smin(entry: dict) -> str:
    return f"{_sec(entry['median_s'])} s (min {_sec(entry['min_s'])})"


def _mib(x: float) -> str:
    return f"{x:,.0f} MiB" if abs(x) >= 10 else f"{x:.2g} MiB"


def machine_line(res: dict) -> str:
    m, v = res["machine"], res["versions"]
    gpu = f"GPU {m['gpu']}" if m.get("gpu") else "no GPU"
    libs = ", ".join(f"{k} {v[k]}" for k in ("torch", "transformers", "peft", "gradio") if k in v)
    return f"{m['cpu']}, {m['cores']} cores ({m.get('torch_threads')} torch threads), {gpu}; Python {m['python']}, {libs}"


def commit_line(res: dict) -> str:
    g = res.get("git") or {}
    if not g.get("commit"):
        return "outside git"
    return f"commit {g['commit'][:12]}" + (" with uncommitted changes" if g.get("dirty") else "")


def commands_line(res: dict) -> str:
    return ", ".join(f"`{c}`" for c in res.get("commands") or [res["command"]])


def runs_line(measurements: dict[str, dict], date: str = "") -> str:
    """The run (date, commit) each measurement comes from: runs merged into one JSON keep their own
    (``date`` for those that have none)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, m in measurements.items():
        groups.setdefault((m.get("date", date)[:10], commit_line(m)), []).append(name)
    return "; ".join(f"{', '.join(names)}: {date}, {commit}" for (date, commit), names in groups.items())


def flagged(res: dict) -> list[dict]:
    return [c for m in res["measurements"].values() for c in m.get("checks", []) if c.get("flagged")]


def ratio_rows(res: dict, with_min: bool = True) -> list[tuple[str, str, str, float | None, str]]:
    """(measurement, ours, reference, ratio of medians, goal) for every comparison the JSON holds."""
    ms, rows = res["measurements"], []
    fmt = _smin if with_min else _s

    def mark(name):
        return " ⚠" if any(c.get("flagged") for c in ms[name].get("checks", [])) else ""

    if "covariance" in ms:
        t = ms["covariance"]["times"]
        rows.append((f"covariance pass vs plain forward, same batches{mark('covariance')}", fmt(t["covariance"]),
                     fmt(t["forward"]), t["covariance"]["median_s"] / t["forward"]["median_s"],
                     f"≤ {GOALS['covariance']:.2f}×"))
    if "sweep" in ms:
        m = ms["sweep"]
        t = m["times"]
        rows.append((f"{m['betas']}-value β sweep, {m['modules']} modules, r = {m['rank']}, vs that forward",
                     fmt(t["sweep"]), fmt(t["forward"]), t["sweep"]["median_s"] / t["forward"]["median_s"],
                     f"≤ {GOALS['sweep']:.2f}×"))
        if "sweep_app" in t:
            rows.append((f"the β tab's sweep: {m['betas']} β × {m['modules']} modules, every rank at once, float32, "
                         "vs that forward", fmt(t["sweep_app"]), fmt(t["forward"]),
                         t["sweep_app"]["median_s"] / t["forward"]["median_s"], "–"))
    if "inits" in ms:
        t = ms["inits"]["times"]
        rows.append((f"SC-LoRA init (statistics of both sets + subspaces + weights) vs PEFT's CorDA-KPM{mark('inits')}",
                     fmt(t["sclora_init"]), fmt(t["corda_kpm_init"]),
                     t["sclora_init"]["median_s"] / t["corda_kpm_init"]["median_s"], f"≤ {GOALS['inits']:.2f}×"))
    if "train" in ms:
        t = ms["train"]["times"]
        rows.append(("training step, SC-LoRA vs plain LoRA, same rank", fmt(t["sclora_step"]), fmt(t["lora_step"]),
                     t["sclora_step"]["median_s"] / t["lora_step"]["median_s"], f"≤ {GOALS['train']:.2f}×"))
        if "lora_step_bf16" in t:
            rows.append(("training step, plain LoRA under bf16 autocast vs float32 (not used on a CPU: measured here)",
                         fmt(t["lora_step_bf16"]), fmt(t["lora_step"]),
                         t["lora_step_bf16"]["median_s"] / t["lora_step"]["median_s"], "–"))
    if "evaluation" in ms:
        m = ms["evaluation"]
        t = m["times"]
        rows.append((f"a run's evaluation in the Fine-tune tab ({m['answered']} answers per set read from one cache, "
                     f"losses on {m['loss_records']} records) vs generate() {m['batch_size']} at a time and the losses of "
                     f"all {m['heldout'][0]} + {m['heldout'][1]} held-out records", fmt(t["tab"]), fmt(t["plain"]),
                     t["tab"]["median_s"] / t["plain"]["median_s"], "–"))
    if "corda" in ms:
        m = ms["corda"]
        t = m["times"]
        rows.append((f"CorDA-KPM adapter, {m['samples']} samples: input covariances in padded batches, handed to "
                     f"PEFT, vs PEFT's one sample per forward", fmt(t["batched"]), fmt(t["per_sample"]),
                     t["batched"]["median_s"] / t["per_sample"]["median_s"], "–"))
    if "covariance" in ms:
        m = ms["covariance"]
        rows.append((f"stored statistics ({m['samples'][0]} + {m['samples'][1]} samples) vs every module's two output "
                     "covariances", _mib(m["stored_statistics_mib"]), _mib(m["all_output_covariances_mib"]),
                     m["stored_statistics_mib"] / m["all_output_covariances_mib"], "–"))
    if "app" in ms:
        t = ms["app"]["times"]
        rows.append((f"app start to first page, warm / cold model cache{mark('app')}",
                     f"{_s(t['warm_cache'])} / {_s(t['cold_cache'])}", "–", None,
                     f"≤ {GOALS['app_warm_s']:.0f} s warm"))
    if "memory" in ms:
        m = ms["memory"]
        rows.append((f"server memory (RSS): baseline / {m['sessions']} sessions with different data, holding their "
                     f"statistics / after dropping them", f"{_mib(m['baseline_mib'])} / "
                     f"{_mib(m['with_sessions_mib'])} / {_mib(m['after_drop_mib'])}",
                     f"{_mib(m['per_session_mib'])} per session", None, "–"))
    return rows


def _met(row) -> str:
    label, ours, ref, ratio, goal = row
    if goal.startswith("≤") and goal.endswith("×") and ratio is not None:
        return "yes" if ratio <= float(goal[1:-1]) else "**no**"
    if goal.endswith("warm"):
        return "yes" if float(ours.split(" s")[0]) <= GOALS["app_warm_s"] else "**no**"
    return "–"


def table(rows, with_goal: bool = True) -> list[str]:
    head = "| measurement | ours | reference | ratio | goal | met |" if with_goal else "| measurement | ours | reference | ratio |"
    lines = [head, "|---" * (6 if with_goal else 4) + "|"]
    for row in rows:
        label, ours, ref, ratio, goal = row
        r = f"{ratio:.2f}×" if ratio is not None else "–"
        lines.append(f"| {label} | {ours} | {ref} | {r} |" + (f" {goal} | {_met(row)} |" if with_goal else ""))
    return lines


def walkthrough_lines(m: dict) -> list[str]:
    return ["| step | seconds |", "|---|---|"] + [f"| {label} | {sec:.1f} |" for label, sec in m["steps"]] + [
        f"| total | {m['total_s']:.0f} |"]


def settings_line(res: dict) -> str:
    s = res["settings"]
    return (f"model `{s['model']}`, {s['samples']} + {s['samples']} samples of `{s['finetune']}` + `{s['preserve']}`, "
            f"max length {s['max_length']}, rank {s['rank']}, batch {s['batch_size']}")


def flag_lines(res: dict) -> list[str]:
    out = []
    for c in flagged(res):
        out.append(f"**Flagged:** `{c['composite']}` ({c['composite_median_s']:.2f} s) was faster than its own part "
                   f"`{c['part']}` ({c['part_median_s']:.2f} s) even when measured again: other load disturbed this "
                   "run; do not quote these figures.")
    return out


def markdown(res: dict | None) -> str:
    if not res:
        return ("# Benchmarks\n\nNo benchmark run is recorded yet. `make bench` (`python -m benchmarks.run`) measures "
                "every figure and writes `benchmarks/results.json` and this file.\n")
    ms, s = res["measurements"], res["settings"]
    lines = ["# Benchmarks", "",
             f"Rendered by `python -m benchmarks.report` from `results.json`, written by {commands_line(res)}.", "",
             f"- Machine: {machine_line(res)}.",
             f"- Runs: {runs_line(res['measurements'], res['date'])}. The last one (`{res['command']}`) took {res['duration_s'] / 60:.1f} min.",
             f"- Settings: {settings_line(res)}.",
             f"- Compared functions ran interleaved (A B A B …), {s['repeats']} repeats each; the table gives the median "
             "(and the minimum); the ratio is of medians. Every raw time is in `results.json`.", ""]
    lines += flag_lines(res)
    if flagged(res):
        lines.append("")
    rows = ratio_rows(res)
    if rows:
        lines += ["## Speed and memory", ""] + table(rows) + [""]
    if "inits" in ms:
        lines += [ms["inits"]["note"] + ".", ""]
    if "corda" in ms:
        m = ms["corda"]
        ours, order = m["relative_difference"], m["order_difference"]
        lines += [f"The batched CorDA-KPM adapter differs from PEFT's per-sample one by {ours['median']:.1e} in the "
                  f"median layer and {ours['largest']:.1e} at most (relative difference of a layer's B·A). PEFT's own "
                  f"pass differs from itself by {order['median']:.1e} and {order['largest']:.1e} when the samples "
                  "come in reverse order: float32 rounding alone moves the smallest directions of W0·C that KPM "
                  "keeps.", ""]
    if "memory" in ms:
        m = ms["memory"]
        lines += ["## Server memory", "",
                  f"A fresh process running the app's session functions (`explorer.session`, `explorer.tabs`): "
                  f"{_mib(m['model_loaded_mib'])} after loading the model; {_mib(m['baseline_mib'])} after one "
                  f"session computed statistics and was dropped and the shared results were cleared (the baseline); "
                  + (f"{_mib(m['with_shared_sessions_mib'])} with {m['sessions']} sessions on the same data (they "
                     "share one statistics object); " if "with_shared_sessions_mib" in m else "")
                  + f"{_mib(m['with_sessions_mib'])} with {m['sessions']} sessions on different data (up to "
                  f"{m['samples']} + {m['samples']} samples; {_mib(m['statistics_mib'])} of tensors in all, "
                  f"{_mib(m['per_session_mib'])} of memory per session); {_mib(m['after_drop_mib'])} after dropping "
                  "them (their statistics stay in the shared results, whose memory is capped)"
                  + (f"; {_mib(m['after_cache_cleared_mib'])} once those are cleared too" if "after_cache_cleared_mib"
                     in m else "") + ".", ""]
    if "walkthrough" in ms:
        m = ms["walkthrough"]
        lines += ["## The app's walkthrough, tab by tab", "",
                  f"The tabs' own functions (`benchmarks/walkthrough.py`), one pass in a fresh session: "
                  f"`{s['model']}`, {m['samples']} + {m['samples']} samples, max length {m['max_length']}, "
                  f"rank {s['rank']}, {m['train_steps']} fine-tune steps per method ({m['methods']}), "
                  f"{m['max_eval']} held-out prompts per set.", ""] + walkthrough_lines(m) + [""]
    if "scaling" in ms:
        lines += ["## Scaling (tiny models)", "",
                  "| model | samples/set | length | covariance pass | eigh of ΔCov (q_proj), median of 5 | size |",
                  "|---|---|---|---|---|---|"]
        for r in ms["scaling"]["rows"]:
            lines.append(f"| {r['model']} | {r['samples_per_set']} | {r['length']} | {r['covariance_s']:.2f} s | "
                         f"{r['eigh_q_proj']['median_s'] * 1e3:.2f} ms | {r['eigh_size']} |")
        lines.append("")
    return "\n".join(lines)


def results_link(results_md: Path, page: Path) -> str:
    """A markdown link from ``page`` to ``results_md``, named by its path in the repository where it is in it."""
    href = Path(os.path.relpath(Path(results_md).resolve(), Path(page).resolve().parent)).as_posix()
    try:
        name = Path(results_md).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        name = href
    return f"[{name}]({href})"


def readme_block(res: dict | None, results_md: Path = ROOT / "benchmarks" / "results.md", page: Path = PAGE) -> str:
    """The page's figures (docs/benchmarks.md): every one rendered from results.json."""
    link = results_link(results_md, page)
    note = "<!-- Rendered from benchmarks/results.json by `make bench` (or `python -m benchmarks.report`); do not edit. -->"
    if not res:
        return "\n".join([START, note, "",
                          "No benchmark run is recorded in this tree yet: `make bench` measures every speed and memory "
                          f"figure and writes them here and to {link}.", "", END])
    ms = res["measurements"]
    lines = [START, note, "",
             f"Measured by {commands_line(res)} on {machine_line(res)}. {settings_line(res)}. Medians of "
             f"{res['settings']['repeats']} interleaved repeats; the minima, every raw time and the details are in "
             f"{link}. Runs: {runs_line(res['measurements'], res['date'])}.", ""]
    lines += flag_lines(res)
    rows = ratio_rows(res, with_min=False)
    if rows:
        lines += table(rows) + [""]
    if "walkthrough" in ms:
        m = ms["walkthrough"]
        lines += [f"The app's default walkthrough through the tabs' own functions (`benchmarks/walkthrough.py`, "
                  f"{m['samples']} + {m['samples']} samples, {m['train_steps']} fine-tune steps per method):", ""]
        lines += walkthrough_lines(m) + [""]
    lines.append(END)
    return "\n".join(lines)


def rewrite_block(text: str, block: str, start: str = START, end: str = END) -> str:
    """``text`` with the part from ``start`` to ``end`` (markers included) replaced by ``block``."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"no {start} … {end} block to rewrite")
    return text[:i] + block + text[j + len(end):]


def load(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write(json_path: str | Path, readme: str | Path | None = None) -> str:
    """results.md beside ``json_path`` from it, and the block of the page ``readme`` when given; returns the .md."""
    from sclora.files import atomic_file_write

    json_path = Path(json_path)
    res = load(json_path)
    text = markdown(res)
    atomic_file_write(json_path.with_suffix(".md"),
                      lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    if readme:
        readme = Path(readme)
        new = rewrite_block(readme.read_text(encoding="utf-8"), readme_block(res, json_path.with_suffix(".md"), readme))
        atomic_file_write(readme, lambda tmp: Path(tmp).write_text(new, encoding="utf-8"))
    return text


def main(argv=None) -> int:
    sys.path.insert(0, str(ROOT))
    p = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n")[0])
    p.add_argument("--json", default=str(ROOT / "benchmarks" / "results.json"))
    p.add_argument("--readme", default=str(PAGE), help="the page whose bench block to rewrite (default "
                   "docs/benchmarks.md); '' for none")
    args = p.parse_args(argv)
    print(write(args.json, args.readme or None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def figure_beside(figure, page: Path) -> str | None:
    """``figure`` as ``<page stem>.html`` and, where it can be drawn, ``.png`` beside ``page``; the stem when the
    PNG is there (a page embeds it), else None."""
    from sclora.figures import write_figures

    _, note = write_figures({page.stem: figure}, page.parent, plotlyjs="cdn")
    if note:
        print(note, file=sys.stderr)
    return page.stem if page.with_suffix(".png").exists() else None
