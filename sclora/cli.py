"""``python -m sclora …``: exit 0 when done, 2 on bad input (one line, no traceback).

Each subcommand is a ``cmd_<name>(args)`` function plus its arguments in ``build_parser``; the
functions only parse, call the library and print.
"""

from __future__ import annotations

import argparse
import sys

from .errors import SCLoRAError
from .files import atomic_file_write


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: same one-line style, exit 2
        self.exit(2, f"error: {message}\n")


def cmd_validate(args) -> None:
    """Print what load_examples found; invalid files raise DataValidationError (exit 2, all problems)."""
    import os

    from .data import BUNDLED_DATASETS, bundled_dataset, load_examples
    from .tokens import token_length_stats

    if args.file in BUNDLED_DATASETS and not os.path.exists(args.file):
        ex = bundled_dataset(args.file)
    else:
        ex = load_examples(args.file)
    print(f"file: {ex.source}\nformat: {ex.format}\nshape: {ex.shape}\nrecords: {len(ex)}")
    print(f"fingerprint: {ex.fingerprint[:16]}")
    print("warnings:" + ("".join(f"\n  - {w}" for w in ex.warnings) if ex.warnings else " none"))
    if args.model:
        from .models import load_model

        _, tokenizer = load_model(args.model, device="cpu")
        s = token_length_stats(ex, tokenizer, args.max_length)
        print(f"tokens ({args.model}, max_length {s['max_length']}): min {s['min']}, median {s['median']:g}, "
              f"max {s['max']}, truncated {s['truncated']}")


def _floats(text: str, flag: str) -> list[float]:
    """'1e-4,3e-4' -> [1e-4, 3e-4], or a one-line error naming the flag."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            values.append(float(part))
        except ValueError:
            raise SCLoRAError(f"{flag}: {part!r} is not a number (give comma-separated numbers, e.g. 0.5,0.9).")
    return values


def _check_train_flags(args) -> None:
    """Check every numeric flag before any model is loaded, with the flag's name in the message."""
    import math

    from .errors import check

    check(args.steps >= 0, f"--steps must be >= 0, got {args.steps}.")
    for lr in args.lr_list:
        check(math.isfinite(lr) and lr > 0, f"--lr/--lrs must be finite and > 0, got {lr}.")
    check(args.batch_size >= 1, f"--batch-size must be >= 1, got {args.batch_size}.")
    check(args.rank >= 1, f"--rank must be >= 1, got {args.rank}.")
    for beta in args.beta_list:
        check(math.isfinite(beta) and 0 <= beta <= 1, f"--beta/--betas must be between 0 and 1, got {beta}.")
    check(args.max_samples >= 1, f"--max-samples must be >= 1, got {args.max_samples}.")
    check(args.max_length >= 8, f"--max-length must be >= 8, got {args.max_length}.")
    check(args.max_eval >= 1, f"--max-eval must be >= 1, got {args.max_eval}.")
    check(args.alpha is None or (math.isfinite(args.alpha) and args.alpha > 0), f"--alpha must be > 0, got {args.alpha}.")


class _CtrlC:
    """First Ctrl-C asks the running job to stop cleanly (results so far are kept); a second one aborts."""

    def __init__(self):
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def __enter__(self):
        import signal

        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True
            print("\nstopping after this step (Ctrl-C again to abort)", file=sys.stderr)

        try:
            self._previous = signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread (main() called from a worker): no Ctrl-C handling
            self._previous = None
        return self

    def __exit__(self, *exc):
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _step_bar(total: int, desc: str):
    """A tqdm bar and an on_step callback that advances it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", leave=False, file=sys.stderr)

    def on_step(info) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{info.loss:.4f}", lr=f"{info.lr:.1e}")

    return bar, on_step


def _print_metrics(m: dict) -> None:
    for key in ("finetune_loss", "preserve_loss", "finetune_accuracy", "preserve_accuracy"):
        if m.get(f"{key}_before") is not None:
            print(f"{key}: {m[f'{key}_before']:.4f} -> {m[f'{key}_after']:.4f}")


def cmd_finetune(args) -> None:
    """One method, one run: train, evaluate before/after, write the run folder."""
    from .compare import examples_from, prepare_data, run_one
    from .evaluate import evaluate
    from .models import load_model
    from .runs import write_run

    from .compare import plan_runs

    args.lr_list, args.beta_list = [args.lr], [args.beta]
    _check_train_flags(args)
    plan_runs([args.method], args.beta_list, args.lr_list)  # names an unknown method before any loading
    finetune_ex = examples_from(args.finetune, what="fine-tune data (--finetune)")
    preserve_ex = examples_from(args.preserve, what="preserve data (--preserve)")
    model, tokenizer = load_model(args.model, device=args.device)
    data = prepare_data(finetune_ex, preserve_ex, tokenizer, max_samples=args.max_samples, max_length=args.max_length,
                        finetune_metric=args.finetune_metric, preserve_metric=args.preserve_metric)
    print("evaluating the base model ...", file=sys.stderr)
    before = evaluate(model, tokenizer, data.finetune_heldout, data.preserve_heldout,
                      finetune_metric=data.finetune_metric, preserve_metric=data.preserve_metric,
                      max_length=args.max_length, batch_size=args.batch_size, max_eval=args.max_eval)
    bar, on_step = _step_bar(args.steps, args.method)
    with _CtrlC() as stop, bar:
        record = run_one(model, tokenizer, data, method=args.method, beta=args.beta, rank=args.rank, steps=args.steps,
                         lr=args.lr, before=before, alpha=args.alpha, target_modules=args.target_modules,
                         batch_size=args.batch_size, seed=args.seed, max_length=args.max_length,
                         max_eval=args.max_eval, model_name=args.model, on_step=on_step, should_stop=stop)
    out = write_run(record, args.out)
    m = record.metrics
    print(f"{record.label}: {m['steps']} steps in {m['train_seconds']:.1f} s"
          + (" (stopped early)" if m["stopped_early"] else ""))
    _print_metrics(m)
    print(f"run folder: {out}")


def cmd_compare(args) -> None:
    """Every method (and β, lr) from one base model; DIR/summary.csv plus one run folder each."""
    from tqdm import tqdm

    from .compare import compare, examples_from, plan_runs

    args.lr_list = _floats(args.lrs, "--lrs") if args.lrs else [args.lr]
    args.beta_list = _floats(args.betas, "--betas")
    _check_train_flags(args)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    plan_runs(methods, args.beta_list, args.lr_list)
    finetune_ex = examples_from(args.finetune, what="fine-tune data (--finetune)")
    preserve_ex = examples_from(args.preserve, what="preserve data (--preserve)")
    from .models import load_model

    model, tokenizer = load_model(args.model, device=args.device)
    bars: dict = {}

    def on_event(kind: str, info: dict) -> None:
        if kind == "stage":
            tqdm.write(info["desc"] + " ...", file=sys.stderr)
        elif kind == "run_start":
            bars["run"] = tqdm(total=args.steps, desc=f"[{info['index'] + 1}/{info['total']}] {info['name']}",
                               unit="step", leave=False, file=sys.stderr)
        elif kind == "step":
            bars["run"].update(1)
            bars["run"].set_postfix(loss=f"{info['info'].loss:.4f}")
        elif kind == "run_done":
            bars.pop("run").close()
            m = info["record"].metrics
            tqdm.write(f"{info['name']}: finetune loss {m['finetune_loss_after']:.4f}, "
                       f"preserve loss {m['preserve_loss_after']:.4f}", file=sys.stderr)

    with _CtrlC() as stop:
        try:
            result = compare(model, tokenizer, finetune_ex, preserve_ex, methods=methods, betas=args.beta_list,
                             lrs=args.lr_list, lora_lr_factor=args.lora_lr_factor, rank=args.rank, steps=args.steps,
                             batch_size=args.batch_size,
                             seed=args.seed, alpha=args.alpha, target_modules=args.target_modules,
                             max_samples=args.max_samples, max_length=args.max_length, max_eval=args.max_eval,
                             finetune_metric=args.finetune_metric, preserve_metric=args.preserve_metric,
                             model_name=args.model, out_dir=args.out, on_event=on_event, should_stop=stop)
        finally:
            if "run" in bars:
                bars.pop("run").close()
    columns = ["label", "finetune_loss_after", "preserve_loss_after", "preserve_loss_change",
               "finetune_accuracy_after", "preserve_accuracy_after", "on_front"]
    print(result.table[columns].to_string(index=False))
    if result.stopped:
        print("stopped early: the table holds the runs that finished", file=sys.stderr)
    print(f"summary: {args.out}/summary.csv")


def cmd_generate(args) -> None:
    """Greedy answers of the base model and of each adapter to the same prompts, as JSONL."""
    import json

    from .compare import adapter_label, read_prompts, side_by_side
    from .errors import check
    from .models import load_model

    check(1 <= args.max_new_tokens <= 1024, f"--max-new-tokens must be between 1 and 1024, got {args.max_new_tokens}.")
    prompts = read_prompts(args.prompts)
    adapters = {}
    for folder in args.adapter or []:
        label = adapter_label(folder)
        check(label not in adapters, f"--adapter: two adapters are both named {label!r}; rename a folder.")
        adapters[label] = folder
    model, tokenizer = load_model(args.model, device=args.device)
    table = side_by_side(model, tokenizer, adapters, prompts, max_new_tokens=args.max_new_tokens)

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            for row in table.to_dict(orient="records"):
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    atomic_file_write(args.out, write)
    print(f"{len(prompts)} prompts x {1 + len(adapters)} models -> {args.out}")


def _tqdm_progress():
    """A progress(done, total, desc) callback drawing one tqdm bar per description."""
    from tqdm import tqdm

    bars: dict = {}

    def progress(done: int, total: int, desc: str) -> None:
        bar = bars.get(desc) or bars.setdefault(desc, tqdm(total=total, desc=desc, leave=False, file=sys.stderr))
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return progress


DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def _peak_memory() -> tuple[int, str]:
    """The measured peak: CUDA memory allocated (summed over devices) when CUDA is used, else the process's peak RSS."""
    import resource

    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return sum(torch.cuda.max_memory_allocated(i) for i in range(torch.cuda.device_count())), "CUDA allocated"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process peak RSS"


def cmd_covariances(args) -> None:
    """C+ and C- of every target module, first N records of each file, saved to safetensors.

    Under ``torchrun`` / ``accelerate launch`` every process reads its share of each set and only
    rank 0 writes the file (see ``sclora.distributed``).
    """
    from .distributed import finish

    ok = False
    try:
        _covariances(args)
        ok = True
    finally:
        finish(ok)


def _covariances(args) -> None:
    import torch

    from .compare import examples_from
    from .distributed import collect_statistics_distributed, init_from_environment, local_device, rank_and_world
    from .errors import check
    from .models import load_model
    from .cost import statistics_cost
    from .statistics import save_statistics, stored_widths
    from .tokens import tokenize_examples

    check(args.max_samples >= 1, f"--max-samples must be >= 1, got {args.max_samples}.")
    check(args.max_length >= 1, f"--max-length must be >= 1, got {args.max_length}.")
    check(args.batch_size >= 1, f"--batch-size must be >= 1, got {args.batch_size}.")
    check(args.out.endswith(".safetensors"), f"--out must end in .safetensors, got {args.out!r}.")
    check(args.device_map is None or args.device is None, "--device and --device-map exclude each other.")
    data = {role: examples_from(spec, what=f"{role} data (--{role})")
            for role, spec in (("finetune", args.finetune), ("preserve", args.preserve))}
    if init_from_environment():
        check(args.device_map is None, "--device-map spreads one model over the GPUs; with several processes "
              "each process holds a whole model on its own GPU: drop --device-map or run one process.")
    rank, world = rank_and_world()
    main_process = rank == 0
    model, tokenizer = load_model(args.model, device=local_device(args.device), dtype=getattr(torch, args.dtype),
                                  device_map=args.device_map)
    ids = {}
    for role, ex in data.items():
        ex.records = ex.records[: args.max_samples]  # the first N records, in file order
        tok = tokenize_examples(ex, tokenizer, max_length=args.max_length, loss_on="all")
        ids[role] = tok.input_ids
        if tok.n_truncated and main_process:
            print(f"{role}: {tok.n_truncated} of {len(tok.input_ids)} samples truncated to {args.max_length} tokens",
                  file=sys.stderr)
    counts = {role: len(v) for role, v in ids.items()}
    widths = stored_widths(model, args.modules, ids["finetune"][0])
    if main_process:
        cost = statistics_cost(model, ids["finetune"], ids["preserve"], widths, batch_size=args.batch_size,
                               aggregate=args.aggregate, world=world)
        print(f"memory: the statistics need about {cost.statistics_bytes / 2**20:.1f} MiB (float64, {len(widths)} "
              f"stored matrices per set, d up to {max(widths)}: N*d*8 bytes each when N <= d, else d*d*8; N = "
              f"{counts['finetune']} + {counts['preserve']}) on top of the model ({cost.model_bytes / 2**20:.1f} MiB)"
              + (f", on each of {world} processes" if world > 1 else ""))
        print(cost.describe())
    with _CtrlC() as stop:
        stats = collect_statistics_distributed(
            model, ids["finetune"], ids["preserve"], target_modules=args.modules, aggregate=args.aggregate,
            batch_size=args.batch_size, pad_token_id=tokenizer.pad_token_id or 0,
            progress=_tqdm_progress() if main_process else None,
            should_stop=stop, model_name=args.model, fingerprints={r: ex.fingerprint for r, ex in data.items()},
        )
    peak, what = _peak_memory()
    if not main_process:
        return
    save_statistics(stats, args.out)
    print(f"{len(stats.modules)} modules, {stats.counts['finetune']['samples']} + "
          f"{stats.counts['preserve']['samples']} samples ({args.aggregate}) -> {args.out} "
          f"({stats.nbytes() / 2**20:.1f} MiB; every output covariance would take {stats.output_nbytes() / 2**20:.1f} MiB)"
          + (f" from {world} processes" if world > 1 else ""))
    print(f"memory: measured peak {peak / 2**20:.1f} MiB ({what}" + (", rank 0" if world > 1 else "") + ")")


def cmd_subspace(args) -> None:
    """Q_r (d_out x r, float32) and its r eigenvalues for every module, to safetensors."""
    import warnings

    from safetensors.torch import save_file

    from .statistics import load_statistics
    from .subspace import check_beta_rank, sclora_subspace, subspace_warnings

    check_beta_rank(args.beta, args.rank)
    stats = load_statistics(args.covariances)
    check_beta_rank(args.beta, args.rank, min(m.d_out for m in stats.modules))  # before any warning is printed
    for note in subspace_warnings(stats, args.beta, args.rank):
        print(f"warning: {note}", file=sys.stderr)
    tensors = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in stats.module_names:
            sub = sclora_subspace(stats, name, args.beta, args.rank)
            tensors[name] = sub.basis.float().contiguous()
            tensors[f"{name}.eigenvalues"] = sub.eigenvalues[: args.rank].float().contiguous()
    atomic_file_write(args.out, lambda tmp: save_file(tensors, tmp, metadata={"beta": str(args.beta), "rank": str(args.rank)}))
    print(f"{len(stats.modules)} subspaces (beta {args.beta}, rank {args.rank}) -> {args.out}")


def cmd_tradeoff(args) -> None:
    """The beta sweep over all modules as CSV: module, layer, kind, beta, energies, reward."""
    from .statistics import load_statistics
    from .subspace import DEFAULT_BETAS, check_beta_rank, tradeoff, tradeoff_totals

    betas = _floats(args.betas, "--betas") if args.betas else list(DEFAULT_BETAS)
    for beta in betas:
        check_beta_rank(beta, args.rank)
    stats = load_statistics(args.covariances)
    table = tradeoff(stats, args.rank, betas, progress=_tqdm_progress())
    atomic_file_write(args.out, lambda tmp: table.to_csv(tmp, index=False))
    print(tradeoff_totals(table).to_string(index=False, float_format="%.4f"))
    print(f"{len(table)} rows -> {args.out}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sclora", description="SC-LoRA: knowledge-preserving LoRA initialisation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # Subcommands are registered below, one block each (keep the blocks independent).
    p = sub.add_parser("validate", help="check a data file: format, shape, records, warnings, token lengths")
    p.add_argument("file", help="a .jsonl/.json/.csv/.tsv/.txt/.parquet file, or a bundled dataset name")
    p.add_argument("--model", default=None, help="also report token lengths with this model's tokenizer")
    p.add_argument("--max-length", type=int, default=512, help="token limit for the truncation count")
    p.set_defaults(func=cmd_validate)
    for name, helptext in (("finetune", "fine-tune one method and write a run folder"),
                           ("compare", "fine-tune several methods/β/learning rates from one base model")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--model", default="bundled", help="'bundled', a tiny test model, a folder or a hub id")
        p.add_argument("--finetune", required=True, help="fine-tune data: a file or a bundled dataset name")
        p.add_argument("--preserve", required=True, help="preserve data: a file or a bundled dataset name")
        if name == "finetune":
            p.add_argument("--method", default="sclora", help="lora, pissa, milora, corda-kpm, corda-ipm or sclora")
            p.add_argument("--beta", type=float, default=0.9, help="SC-LoRA trade-off β in [0, 1]")
            p.add_argument("--lr", type=float, default=2e-4, help="peak learning rate")
            p.add_argument("--out", required=True, help="run folder to write")
            p.set_defaults(func=cmd_finetune)
        else:
            p.add_argument("--methods", default="lora,pissa,milora,corda-kpm,sclora", help="comma-separated methods")
            p.add_argument("--betas", default="0.5,0.9", help="comma-separated β values for sclora")
            lr = p.add_mutually_exclusive_group()
            lr.add_argument("--lr", type=float, default=2e-4, help="one learning rate for every run")
            lr.add_argument("--lrs", default=None, help="comma-separated learning rates (each method as a front)")
            p.add_argument("--lora-lr-factor", type=float, default=1.0,
                           help="LoRA trains at this times each rate (the explorer uses 10: a like-with-like comparison)")
            p.add_argument("--out", required=True, help="folder for summary.csv and the run folders")
            p.set_defaults(func=cmd_compare)
        p.add_argument("--rank", type=int, default=8, help="LoRA rank r")
        p.add_argument("--alpha", type=float, default=None, help="LoRA alpha (default: r, scaling 1)")
        p.add_argument("--steps", type=int, default=50, help="optimizer steps (0: adapter equals the base)")
        p.add_argument("--batch-size", type=int, default=8)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--max-samples", type=int, default=256, help="samples per set for the statistics")
        p.add_argument("--max-length", type=int, default=256, help="token limit per sample")
        p.add_argument("--max-eval", type=int, default=64, help="held-out prompts answered for accuracy")
        p.add_argument("--target-modules", default=None, help="comma-separated module names or regexes")
        for role in ("finetune", "preserve"):
            p.add_argument(f"--{role}-metric", default=None, choices=["math", "exact", "refusal", "style"],
                           help=f"answer rule for the {role} held-out set (default: the bundled set's own)")
        p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")

    p = sub.add_parser("covariances", help="collect C+ and C- of every adapted layer (one forward pass per set)")
    p.add_argument("--model", default="bundled", help="'bundled', tiny-llama/tiny-qwen2/tiny-gpt2, a folder or a hub id")
    p.add_argument("--finetune", required=True, help="fine-tune data: a file or a bundled dataset name")
    p.add_argument("--preserve", required=True, help="preserve data: a file or a bundled dataset name")
    p.add_argument("--max-samples", type=int, default=256, help="first N records of each file (the paper: 256)")
    p.add_argument("--max-length", type=int, default=512, help="token limit per sample")
    p.add_argument("--modules", default=None, help="comma-separated module names or regexes (default: all projections)")
    p.add_argument("--aggregate", choices=["sample", "token"], default="sample",
                   help="sample: the paper's per-sample token sums; token: per-token outer products (extension)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--dtype", choices=list(DTYPES), default="float32",
                   help="model weights' dtype (statistics always accumulate in float64)")
    p.add_argument("--device-map", default=None, choices=["auto"],
                   help="auto: spread a model too big for one device over the GPUs, then the CPU (accelerate)")
    p.add_argument("--out", required=True, help="output .safetensors file")
    p.set_defaults(func=cmd_covariances)

    p = sub.add_parser("subspace", help="SC-LoRA subspace Q_r of every module for one beta and rank")
    p.add_argument("--covariances", required=True, help="file written by `covariances`")
    p.add_argument("--beta", type=float, required=True, help="trade-off beta in [0, 1]")
    p.add_argument("--rank", type=int, required=True, help="subspace dimension r")
    p.add_argument("--out", required=True, help="output .safetensors: <module> -> Q_r, <module>.eigenvalues")
    p.set_defaults(func=cmd_subspace)

    p = sub.add_parser("tradeoff", help="energies e+(beta), e-(beta) and reward per module over a beta sweep")
    p.add_argument("--covariances", required=True, help="file written by `covariances`")
    p.add_argument("--rank", type=int, required=True, help="subspace dimension r")
    p.add_argument("--betas", default=None, help="comma-separated betas (default 0,0.1,...,1)")
    p.add_argument("--out", required=True, help="output .csv")
    p.set_defaults(func=cmd_tradeoff)

    p = sub.add_parser("generate", help="greedy answers of the base model and adapters, side by side")
    p.add_argument("--model", default="bundled", help="the base model the adapters were trained on")
    p.add_argument("--adapter", action="append", help="adapter or run folder (repeat for several)")
    p.add_argument("--prompts", required=True, help=".txt (one prompt per line) or a data file")
    p.add_argument("--out", required=True, help="output .jsonl: prompt, base, one key per adapter")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SCLoRAError as exc:
        from .data import DataValidationError

        # One line; only a data file's problem list keeps its own lines (one per problem).
        message = str(exc) if isinstance(exc, DataValidationError) else " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
