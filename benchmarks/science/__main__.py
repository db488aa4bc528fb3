"""The science protocol: does SC-LoRA forget less than LoRA, PiSSA and CorDA at matched fine-tune loss?

    python -m benchmarks.science                  # the whole protocol on the bundled model (resumable)
    python -m benchmarks.science --report-only    # docs/results.md and its figure from docs/results.json

The protocol's design is in ``benchmarks/science/__init__.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks.science.plan import PHASES, save_raw, settings_of  # noqa: E402
from benchmarks.science.protocol import run  # noqa: E402
from benchmarks.science.report import write_report  # noqa: E402

DEFAULT_OUT, README = ROOT / "docs" / "results.md", ROOT / "README.md"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.science", description=__doc__.split("\n")[0])
    p.add_argument("--model", default="bundled")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--betas", default="0,0.5,0.9", help="SC-LoRA's β values (β = 0 does not use C−)")
    p.add_argument("--claim-beta", type=float, default=0.9, help="the β the verdicts test (the paper: β ≥ 0.8)")
    p.add_argument("--lrs-lora", default="2e-4,6e-4,2e-3")
    p.add_argument("--lrs-residual", default="2e-5,6e-5,2e-4", help="PiSSA, CorDA-KPM and SC-LoRA")
    p.add_argument("--finetune", default="math", help="the bundled fine-tune set (math, pirate)")
    p.add_argument("--phases", default=",".join(PHASES), help="which experiments run (default: all)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--finetune-samples", type=int, default=128, help="N+: fine-tune samples behind C+")
    p.add_argument("--preserve-samples", default="128,1024", help="N− values: knowledge samples behind C−")
    p.add_argument("--eval-prompts", type=int, default=200, help="held-out knowledge questions per seed")
    p.add_argument("--insample", type=int, default=128, help="C− knowledge samples also scored")
    p.add_argument("--safety-eval", type=int, default=72, help="harmful prompts scored, held-out and C−'s own")
    p.add_argument("--device", default=None)
    p.add_argument("--out", default=str(DEFAULT_OUT),
                   help="the report; the runs go beside it as .json, the figure as .html/.png")
    p.add_argument("--report-only", action="store_true", help="re-render the report from the saved .json")
    p.add_argument("--readme", default=None,
                   help="README whose science block is rewritten (default: README.md when --out is the default)")
    args = p.parse_args(argv)
    if args.readme is None:
        args.readme = str(README) if Path(args.out).resolve() == DEFAULT_OUT else ""
    return args


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    out = Path(args.out)
    raw_path = out.with_suffix(".json")
    if args.report_only:
        raw = json.loads(raw_path.read_text(encoding="utf-8"))
        print(write_report(raw, out, args.readme))
        save_raw(raw, raw_path)  # with the verdicts just computed
        return 0
    run(settings_of(args), argv, out, args.readme, model_name=args.model, torch_device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
