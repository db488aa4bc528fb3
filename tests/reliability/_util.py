"""Helpers shared by the reliability tests (fixtures live in conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAD = HERE.parent / "data" / "bad"
GOOD = HERE.parent / "data" / "good"
ROOT = HERE.parents[1]
PROGRESS_BAR = re.compile(r"\d+it \[|it/s\]|s/it\]|%\|")


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    @property
    def err_lines(self) -> list[str]:
        """Non-empty stderr lines, without progress bars (tqdm, transformers' 'Loading weights')."""
        return [line for line in self.err.splitlines() if line.strip() and not PROGRESS_BAR.search(line)]


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    """Exit 2, exactly one non-empty stderr line starting with 'error:', no traceback, fragments in it."""
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith("error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def assert_data_error(result: CliResult, name: str, *fragments: str) -> None:
    """A data file's error: exit 2, 'error: <name>: N problems ...', then only '  - problem' lines."""
    assert result.code == 2, (result.code, result.err)
    assert "Traceback" not in result.err and result.out == ""
    head, *rest = result.err_lines
    assert head.startswith(f"error: {name}: "), head
    assert rest and all(line.startswith(("  - ", "  ... and ")) for line in rest), result.err
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)
