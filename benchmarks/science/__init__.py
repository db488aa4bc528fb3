"""The science protocol: does SC-LoRA forget less than LoRA, PiSSA and CorDA at matched fine-tune loss?

    python -m benchmarks.science                  # the whole protocol on the bundled model (resumable)
    python -m benchmarks.science --report-only    # docs/results.md and its figure from docs/results.json
    python -m benchmarks.science --model tiny-llama --seeds 0 --eval-prompts 6 --preserve-samples 4,8 \
        --insample 4 --safety-eval 3 --steps 1 --out r.md                                   # smoke test

Design (every choice is a flag; the defaults are the committed run):

- **Seeds that vary what matters.** Each seed draws its own train/held-out split of every set, LoRA's
  random A and the batch order.
- **Fine-tune**: `math`, a fixed number of AdamW steps per run; C+ from the first N+ train samples.
- **Knowledge, scored without style**: every held-out knowledge question is asked as multiple choice
  (the reference against 3 distractors of its category, `assets/data/knowledge_choices.jsonl`), scored
  by length-normalised log-probability as lm-evaluation-harness scores ARC or MMLU; beside it greedy
  generation accuracy and the reference answer's token loss on the same questions. Each metric is
  taken twice: on held-out questions and on the preserve samples C− was built from (the paper's
  Appendix B effect is the gap).
- **What N− does**: C− from N− = 128 and 1,024 knowledge samples.
- **Safety**: C− from refusals (`safety`); refusal rate on held-out harmful prompts and on C−'s own.
- **Matched learning**: each method over three learning rates (residual inits take far larger steps
  than LoRA at one learning rate, so LoRA gets a grid 10× higher); forgetting is read off each
  method's front at one common held-out fine-tune loss, interpolated between learning rates.
- **Uncertainty**: paired bootstrap over seeds and prompts for every difference; one verdict per claim.

Every run (method, β, C−, learning rate, seed) is saved to ``<out>.json`` the moment it ends, and a
run that is there is never run again, so the command resumes where it was cut off. Each method's
initialisation is built once and copied for its learning rates. The report is rendered from the JSON
alone (``--report-only``); the one hand-written part is ``<out stem>-discussion.md`` beside it.

The modules, each importing only those listed before it:

- ``plan``: the settings, the configurations in the order they run, run keys, a run's record;
- ``analysis``: matched fine-tune loss, paired bootstrap, one verdict per claim;
- ``report``: results.md, its figure and the README block, rendered from results.json;
- ``protocol``: each seed's data, the evaluation of a model, the runs phase by phase (resumable);
- ``__main__``: the command line.
"""
