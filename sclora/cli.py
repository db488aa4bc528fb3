"""``python -m sclora …``: exit 0 when done, 2 on bad input (one line, no traceback).

Each subcommand is a ``cmd_<name>(args)`` function plus its arguments in ``build_parser``; the
functions only parse, call the library and print.
"""

from __future__ import annotations

import argparse
import sys

from .errors import SCLoRAError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own errors: same one-line style, exit 2
        self.exit(2, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sclora", description="SC-LoRA: knowledge-preserving LoRA initialisation.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # Subcommands are registered below, one block each (keep the blocks independent).
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except SCLoRAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
