"""Fine-tune with TRL's SFTTrainer from an SC-LoRA initialisation; leave a standard LoRA in DIR/adapter.

    python examples/sft_trl.py --model bundled --finetune math --preserve knowledge \\
        --beta 0.9 --rank 8 --steps 50 --out runs/trl

    accelerate launch --num_processes 2 examples/sft_trl.py …   # several GPUs: DDP, statistics shared

``--finetune`` / ``--preserve`` take a bundled set name (math, knowledge, pirate, safety) or a data
file (.jsonl/.json/.csv/.tsv/.txt/.parquet; prompt/response, chat or text records). The steps:

1. ``sclora.get_sclora_model`` runs the base model once over both sets (each process its share),
   solves the subspaces and returns a ``PeftModel``; its config never re-runs an initialisation.
2. ``SFTTrainer`` trains it like any PEFT model (no ``peft_config``: the model is already one).
   ``SCLoRAExportCallback`` writes ``checkpoint-N/sclora-adapter/`` beside every checkpoint.
3. ``DIR/adapter`` is a standard LoRA (rank 2r) for the *unmodified* base model:
   ``PeftModel.from_pretrained(base, "DIR/adapter")``. ``DIR/reference_logits.safetensors`` holds the
   trained model's logits on the first fine-tune sample, to check a reload against.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import sclora  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="bundled", help="'bundled', tiny-llama, a local folder or a hub id")
    p.add_argument("--finetune", required=True, help="fine-tune data: a bundled set name or a data file")
    p.add_argument("--preserve", required=True, help="data whose behaviour to preserve: a set name or a file")
    p.add_argument("--beta", type=float, default=0.9, help="SC-LoRA trade-off in [0, 1] (1: preserve most)")
    p.add_argument("--rank", type=int, default=8, help="LoRA rank r (the exported adapter has rank 2r)")
    p.add_argument("--steps", type=int, default=50, help="optimizer steps")
    p.add_argument("--out", required=True, help="output folder: adapter/, trainer/ (checkpoints)")
    p.add_argument("--lr", type=float, default=2e-4, help="peak learning rate (cosine schedule, 3%% warmup)")
    p.add_argument("--batch-size", type=int, default=4, help="per-device batch size")
    p.add_argument("--max-samples", type=int, default=256, help="samples of each set for the statistics")
    p.add_argument("--max-length", type=int, default=256, help="token limit per sample")
    p.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps (default: at the end)")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def training_records(examples, tokenizer) -> list[dict]:
    """TRL dataset rows: conversational prompt/completion (loss on the answer) or plain text."""
    from sclora.tokens import format_example, has_chat_template, record_messages, record_shape

    rows = []
    for record in examples.records:
        if record_shape(record) == "text":
            rows.append({"text": record["text"]})
        elif has_chat_template(tokenizer):
            messages = record_messages(record)
            rows.append({"prompt": messages[:-1], "completion": messages[-1:]})
        else:
            prompt, full = format_example(record, tokenizer)
            rows.append({"prompt": prompt, "completion": full[len(prompt):]})
    return rows


def run(args) -> Path:
    import torch
    from accelerate import PartialState
    from datasets import Dataset
    from peft import LoraConfig
    from safetensors.torch import save_file
    from trl import SFTConfig, SFTTrainer

    from sclora import get_sclora_model
    from sclora.callbacks import SCLoRAExportCallback
    from sclora.compare import examples_from
    from sclora.tokens import tokenize_examples
    from sclora.errors import check
    from sclora.export import export_adapter
    from sclora.models import load_model

    check(args.steps >= 1, f"--steps must be >= 1, got {args.steps}.")
    check(args.rank >= 1, f"--rank must be >= 1, got {args.rank}.")
    check(0 <= args.beta <= 1, f"--beta must be between 0 and 1, got {args.beta}.")
    check(args.max_samples >= 1 and args.max_length >= 8 and args.batch_size >= 1,
          "--max-samples and --batch-size must be >= 1, --max-length >= 8.")
    out = Path(args.out)
    state = PartialState()  # joins the process group under `accelerate launch` / torchrun
    model, tokenizer = load_model(args.model, device=state.device)
    sets = {}
    for role, spec in (("finetune", args.finetune), ("preserve", args.preserve)):
        sets[role] = examples_from(spec, what=f"{role} data (--{role})")
        sets[role].records = sets[role].records[: args.max_samples]
    ids = {role: tokenize_examples(ex, tokenizer, max_length=args.max_length, loss_on="all").input_ids
           for role, ex in sets.items()}

    config = LoraConfig(r=args.rank, lora_alpha=args.rank, lora_dropout=0.0, task_type="CAUSAL_LM")
    peft_model = get_sclora_model(model, config, finetune=ids["finetune"], preserve=ids["preserve"],
                                  beta=args.beta, tokenizer=tokenizer)

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    training = SFTConfig(
        output_dir=str(out / "trainer"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr, lr_scheduler_type="cosine", warmup_steps=0.03, weight_decay=0.0,
        save_strategy="steps", save_steps=args.save_steps or args.steps, logging_steps=max(1, args.steps // 10),
        max_length=args.max_length, bf16=bf16, fp16=False, gradient_checkpointing=False, report_to="none",
        seed=args.seed, data_seed=args.seed, dataloader_num_workers=0, use_cpu=not torch.cuda.is_available(),
        ddp_find_unused_parameters=False,  # every LoRA matrix takes part in every step
    )
    trainer = SFTTrainer(model=peft_model, args=training,
                         train_dataset=Dataset.from_list(training_records(sets["finetune"], tokenizer)),
                         processing_class=tokenizer, callbacks=[SCLoRAExportCallback()])
    trainer.train()

    if state.is_main_process:
        adapter = export_adapter(peft_model, out / "adapter")
        peft_model.eval()
        with torch.no_grad():
            probe = torch.tensor([ids["finetune"][0]], device=state.device)
            logits = peft_model(input_ids=probe).logits.float().cpu()
        save_file({"input_ids": probe.cpu(), "logits": logits.contiguous()}, str(out / "reference_logits.safetensors"))
        loss = [h["loss"] for h in trainer.state.log_history if "loss" in h]
        print(f"trained {trainer.state.global_step} steps"
              + (f", loss {loss[0]:.4f} -> {loss[-1]:.4f}" if loss else ""))
        print(f"standard LoRA (rank {2 * args.rank}) for the unmodified {args.model}: {adapter}")
    state.wait_for_everyone()
    return out / "adapter"


def main(argv=None) -> int:
    from sclora.errors import SCLoRAError

    args = parse_args(argv)
    try:
        run(args)
    except SCLoRAError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
