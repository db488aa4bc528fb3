"""SC-LoRA Explorer: the Gradio app. A thin layer over the `sclora` library (see explorer/).

    python app.py                      # bundled SmolLM2-135M-Instruct, offline
    python app.py --model tiny-llama   # a tiny random model, for tests
    SCLORA_MODEL=tiny-llama python app.py
"""

from __future__ import annotations

import argparse
import os

from explorer import engine, prepare
from explorer.app import build_app, launch


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.environ.get("SCLORA_MODEL", "bundled"),
                        help="bundled (default), tiny-llama/tiny-qwen2/tiny-gpt2, a hub id or a local folder")
    args = parser.parse_args(argv)
    demo = build_app(args.model)
    print(f"Loading {args.model} ...", flush=True)
    engine.get_model()  # load before serving, so the first click is fast
    prepare.start()  # the default walkthrough's results, computed (or read back) while people arrive
    launch(demo)


if __name__ == "__main__":
    main()
