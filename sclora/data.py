"""Datasets: types, record shapes, validation, loading, splits and bundled sets.

``load_examples(path)`` reads JSONL, JSON (an array of records), CSV, TSV, TXT (one example per
line, or blocks separated by blank lines) and Parquet, detects the record shape and returns
normalised :class:`Examples`. A file with any invalid record is rejected as a whole, with every
problem listed (file, line/row, field); duplicates and very long samples only give warnings.
The record cap (``max_records``) is the one thing that truncates: reading stops there, with a warning.
Every text field goes through :func:`sclora.text.normalise_text` (NFC, line ends, no control
characters, nothing invisible-only); nesting depth, line length and record count are limited while reading.

Shapes and their normalised records (see docs/data.md):

- ``text``:            ``{"text": s}``, tokenized exactly as it is;
- ``prompt_response``: ``{"prompt": s, "response": s}`` (aliases: prompt/completion,
  instruction[+input]/output as in Alpaca, question/answer, input/output);
- ``chat``:            ``{"messages": [{"role": "system"|"user"|"assistant", "content": s}, ...]}``,
  ending with an assistant turn.

File reading and text hygiene live in :mod:`sclora.readers`; formatting, token ids and loss masks in
:mod:`sclora.tokens`; the answer rules of the bundled sets in :mod:`sclora.answers`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SCLoRAError, check
from .readers import (RECOGNISED_HINT, decode_text, detect_shape, partial_pair, read_delimited, read_json, read_jsonl,
                      read_parquet, read_txt)
from .text import (LINE_BREAKING, MAX_PROBLEMS_PER_RECORD, char_name, control_problems, format_size, is_invisible,
                   json_type, normalise_text, shorten)

DEFAULT_MAX_RECORDS: int = 5000
DEFAULT_MAX_BYTES: int = 20 * 2**20
MAX_PROBLEMS_SHOWN = 20
LONG_SAMPLE_CHARS = 4000  # about 1000 tokens: far past the default max_length of 512 tokens

FORMATS = ("jsonl", "json", "csv", "tsv", "txt-lines", "txt-blocks", "parquet")
SHAPES = ("text", "prompt_response", "chat")
ROLES = ("system", "user", "assistant")
EXTENSIONS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "tsv",
    ".txt": "txt", ".text": "txt", ".parquet": "parquet",
}


# --------------------------------------------------------------------------- types


class DataValidationError(SCLoRAError):
    """A data file that cannot be used; ``problems`` lists every problem found (file, line, field)."""

    def __init__(self, source: str, problems: list[str], limit: int = MAX_PROBLEMS_SHOWN):
        source = _one_line(str(source))
        self.source = source
        self.problems = [_one_line(p) for p in problems]
        shown = self.problems[:limit]
        head = (f"{source}: {len(self.problems)} problem{'s' if len(self.problems) != 1 else ''} found, "
                "nothing was loaded:")
        lines = [head] + [f"  - {p}" for p in shown]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        super().__init__("\n".join(lines))


def _one_line(text: str) -> str:
    """A message line: control characters and line separators (a file name may hold them) escaped."""
    return LINE_BREAKING.sub(lambda m: repr(m.group())[1:-1], text)


@dataclass
class Examples:
    """Validated, normalised records of one file or bundled set."""

    source: str
    format: str
    shape: str
    records: list[dict]
    warnings: list[str] = field(default_factory=list)
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class TokenizedExamples:
    """Token ids of the formatted samples and the training labels (``-100`` = no loss)."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    n_truncated: int


@dataclass(frozen=True)
class BundledDataset:
    name: str
    path: Path
    role: str  # "finetune" | "preserve"
    description: str
    metric: str  # "math" | "exact" | "refusal" | "style"
    choices: Path | None = None  # JSONL of {prompt, answer, distractors}: multiple-choice scoring


def fingerprint_records(records: list[dict]) -> str:
    """sha256 hex of the normalised records (key order and whitespace independent)."""
    blob = json.dumps(records, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- shapes


def _string(where: str, name: str, value, problems: list[str], allow_empty: bool = False) -> str | None:
    """Every text field of every format goes through :func:`normalise_text`."""
    return normalise_text(value, where, name, problems, allow_empty=allow_empty)


def _messages(where: str, value, problems: list[str]) -> list[dict] | None:
    if not isinstance(value, list):
        problems.append(f"{where}, field 'messages': expected a list of {{role, content}} objects, got {json_type(value)}")
        return None
    if not value:
        problems.append(f"{where}, field 'messages': the list is empty")
        return None
    out, before = [], len(problems)
    for i, message in enumerate(value, start=1):
        if len(problems) - before >= MAX_PROBLEMS_PER_RECORD:
            problems.append(f"{where}, field 'messages': more messages have problems; the first "
                            f"{MAX_PROBLEMS_PER_RECORD} are listed")
            break
        at = f"messages[{i}]"
        if not isinstance(message, dict):
            problems.append(f"{where}, field '{at}': expected an object with 'role' and 'content', "
                            f"got {json_type(message)}")
            continue
        message = {str(k).lower(): v for k, v in message.items()}
        missing = [k for k in ("role", "content") if k not in message]
        if missing:
            problems.append(f"{where}, field '{at}': missing {' and '.join(map(repr, missing))}")
            continue
        role = message["role"]
        if role not in ROLES:
            problems.append(f"{where}, field '{at}.role': unknown role {shorten(repr(role), 40)}; use one of {', '.join(ROLES)}")
            continue
        content = _string(where, f"{at}.content", message["content"], problems)
        if content is not None:
            out.append({"role": role, "content": content})
    if len(problems) > before:
        return None
    roles = [m["role"] for m in out]
    if "assistant" not in roles:
        problems.append(f"{where}, field 'messages': there is no assistant turn (the response that is trained)")
    elif roles[-1] != "assistant":
        problems.append(f"{where}, field 'messages': the last message is from {roles[-1]!r}; "
                        "it must be the assistant's (the response that is trained)")
    elif "user" not in roles:
        problems.append(f"{where}, field 'messages': there is no user turn")
    elif "system" in roles[1:]:
        problems.append(f"{where}, field 'messages[{roles.index('system', 1) + 1}]': "
                        "a system message may only come first")
    return out if len(problems) == before else None


def _normalise(where: str, item, problems: list[str]) -> tuple[str, dict, set[str]] | None:
    """(shape, normalised record, ignored field names) for one raw record, or None with problems added."""
    if not isinstance(item, dict):
        problems.append(f"{where}: expected a JSON object (a record), got {json_type(item)}")
        return None
    lowered: dict[str, object] = {}
    for key, value in item.items():
        low = str(key).strip().lower()
        if low in lowered:
            problems.append(f"{where}: fields differ only in letter case ({shorten(repr(key), 40)}); keep one")
            return None
        lowered[low] = value
    found = detect_shape(set(lowered))
    if found is None:
        partial = partial_pair(set(lowered))
        fields = shorten(", ".join(map(repr, item)), 200) or "none"
        problems.append(f"{where}: {partial}" if partial else
                        f"{where}: no recognised fields (found {fields}); expected {RECOGNISED_HINT}")
        return None
    shape, pair = found
    before = len(problems)
    if shape == "text":
        used = {"text"}
        text = _string(where, "text", lowered["text"], problems)
        record = {"text": text}
    elif shape == "prompt_response":
        used = set(pair)
        prompt = _string(where, pair[0], lowered[pair[0]], problems)
        response = _string(where, pair[1], lowered[pair[1]], problems)
        if pair == ("instruction", "output") and "input" in lowered:
            used.add("input")
            extra = lowered["input"]
            if extra is not None:  # Alpaca leaves "input" empty for most records
                extra = _string(where, "input", extra, problems, allow_empty=True)
            if prompt is not None and extra and extra.strip():
                prompt = f"{prompt}\n\n{extra}"
        record = {"prompt": prompt, "response": response}
    else:
        used = {"messages"}
        record = {"messages": _messages(where, lowered["messages"], problems)}
    if len(problems) > before:
        return None
    return shape, record, set(lowered) - used


# --------------------------------------------------------------------------- loading


def _line_of(problem: str) -> int:
    """Sort key: the line/record/row number a problem names (0 for whole-file problems)."""
    found = re.search(r" (?:line|record|row) (\d+)", problem)
    return int(found.group(1)) if found else 0


def load_examples(path, *, max_records: int = DEFAULT_MAX_RECORDS, max_bytes: int = DEFAULT_MAX_BYTES,
                  name: str | None = None) -> Examples:
    """Read, validate and normalise a data file (format from its extension, shape from its fields).

    Raises :class:`DataValidationError` listing every problem when anything is invalid; only the
    record cap ``max_records`` truncates: records after the first ``max_records`` are not read, and a
    warning says so.
    """
    check(isinstance(max_records, int) and not isinstance(max_records, bool) and max_records >= 1,
          f"max_records must be a whole number >= 1, got {max_records!r}.")
    check(isinstance(max_bytes, int) and not isinstance(max_bytes, bool) and max_bytes >= 1,
          f"max_bytes must be a whole number >= 1, got {max_bytes!r}.")
    path = Path(path)
    source = name or path.name
    if not path.exists():
        raise DataValidationError(source, [f"{path}: the file does not exist"])
    if not path.is_file():
        raise DataValidationError(source, [f"{path}: not a file"])
    kind = EXTENSIONS.get(path.suffix.lower())
    if kind is None:
        raise DataValidationError(source, [
            f"{source}: unsupported file type {path.suffix or '(no extension)'!r}; "
            f"use one of {', '.join(sorted(EXTENSIONS))}"])
    size = path.stat().st_size
    if size > max_bytes:
        raise DataValidationError(source, [
            f"{source}: the file is {format_size(size)}, over the limit of {format_size(max_bytes)}; "
            "split it or raise max_bytes"])
    if size == 0:
        raise DataValidationError(source, [f"{source}: the file is empty"])

    problems: list[str] = []
    items: list[tuple[str, object]] = []
    more = False  # the file has records after the first max_records, which are not read
    fmt = kind
    if kind == "parquet":
        items, more = read_parquet(path, source, problems, max_records, max_bytes)
    else:
        text, problems = decode_text(path.read_bytes(), source)
        if not problems:  # control characters, located in the file, before any parsing
            problems = control_problems(text, source, "text" if kind == "txt" else None)
        if not problems and not text.strip():
            problems.append(f"{source}: the file has no records (only whitespace)")
        elif not problems and is_invisible(text):
            shown = next(ch for ch in text if not ch.isspace())
            problems.append(f"{source}: the file has no records (only whitespace and invisible characters, "
                            f"such as {char_name(shown)})")
        if not problems:
            if kind == "jsonl":
                items, more = read_jsonl(text, source, problems, max_records)
            elif kind == "json":
                items, more = read_json(text, source, problems, max_records)
            elif kind == "txt":
                fmt, items, more = read_txt(text, source, problems, max_records)
            else:
                items, more = read_delimited(text, source, "\t" if kind == "tsv" else ",", problems, max_records)
    # Keep going after unreadable lines so that one run lists every problem in the file.
    if not items and not problems:
        problems.append(f"{source}: the file has a header but no data rows" if fmt in ("csv", "tsv")
                        else f"{source}: the file has no records")
    if not items:
        raise DataValidationError(source, problems)

    normalised = []  # (where, shape, record)
    ignored: set[str] = set()
    for where, item in items:
        result = _normalise(f"{source} {where}", item, problems)
        if result is not None:
            normalised.append((where, result[0], result[1]))
            ignored |= result[2]
    shapes = Counter(shape for _, shape, _ in normalised)
    if len(shapes) > 1:
        main, count = shapes.most_common(1)[0]
        for where, shape, _ in normalised:
            if shape != main:
                problems.append(f"{source} {where}: a {shape!r} record, but most records ({count} of "
                                f"{len(normalised)}) are {main!r}; use one shape per file")
    if problems:
        raise DataValidationError(source, sorted(problems, key=lambda p: _line_of(p[len(source):])))

    records = [r for _, _, r in normalised]
    wheres = [w for w, _, _ in normalised]
    warnings = _warnings(records, wheres, ignored)
    if more:
        warnings.append(f"the file has more than {max_records} records; only the first {max_records} are read "
                        f"(max_records={max_records})")
    return Examples(source=source, format=fmt, shape=next(iter(shapes)), records=records,
                    warnings=warnings, fingerprint=fingerprint_records(records))


def _record_chars(record: dict) -> int:
    if "messages" in record:
        return sum(len(m["content"]) for m in record["messages"])
    return sum(len(v) for v in record.values())


def _warnings(records: list[dict], wheres: list[str], ignored: set[str]) -> list[str]:
    """Duplicates, very long samples and ignored fields: worth knowing, not worth rejecting."""
    warnings = []
    seen: dict[str, str] = {}
    duplicates = []
    for where, record in zip(wheres, records):
        key = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if key in seen:
            duplicates.append((where, seen[key]))
        else:
            seen[key] = where
    if duplicates:
        where, first = duplicates[0]
        warnings.append(f"{len(duplicates)} duplicate record{'s' if len(duplicates) > 1 else ''} "
                        f"(e.g. {where} repeats {first}); duplicates are kept")
    long = [w for w, r in zip(wheres, records) if _record_chars(r) > LONG_SAMPLE_CHARS]
    if long:
        warnings.append(f"{len(long)} record{'s are' if len(long) > 1 else ' is'} longer than {LONG_SAMPLE_CHARS} "
                        f"characters (first: {long[0]}); they will likely be truncated to max_length tokens")
    if ignored:
        warnings.append(f"fields not used: {', '.join(map(repr, sorted(ignored)))}")
    return warnings


# --------------------------------------------------------------------------- splits


def split_examples(examples: Examples, heldout: float | int = 0.2, seed: int = 0) -> tuple[Examples, Examples]:
    """Deterministic (train, held-out) split; ``heldout`` is a fraction in (0, 1) or a record count.

    The same ``seed`` gives the same split; both parts keep the file's record order.
    """
    n = len(examples)
    check(n >= 2, f"{examples.source} has {n} record(s); a train/held-out split needs at least 2.")
    check(not isinstance(heldout, bool) and isinstance(heldout, (int, float)),
          f"heldout must be a fraction or a count, got {heldout!r}.")
    if isinstance(heldout, float):
        check(0 < heldout < 1, f"heldout as a fraction must be between 0 and 1 (exclusive), got {heldout}.")
        k = min(max(round(n * heldout), 1), n - 1)
    else:
        check(1 <= heldout <= n - 1, f"heldout as a count must be between 1 and {n - 1} for {n} records, got {heldout}.")
        k = heldout
    order = list(range(n))
    random.Random(seed).shuffle(order)
    held = set(order[:k])
    train_records = [r for i, r in enumerate(examples.records) if i not in held]
    held_records = [r for i, r in enumerate(examples.records) if i in held]
    train_keys = {json.dumps(r, sort_keys=True) for r in train_records}
    overlap = sum(json.dumps(r, sort_keys=True) in train_keys for r in held_records)
    warnings = list(examples.warnings)
    if overlap:
        warnings.append(f"{overlap} held-out record{'s' if overlap > 1 else ''} also appear in the train part")

    def part(records: list[dict], label: str) -> Examples:
        return replace(examples, source=f"{examples.source} [{label}]", records=records, warnings=list(warnings),
                       fingerprint=fingerprint_records(records))

    return part(train_records, "train"), part(held_records, "held-out")


# --------------------------------------------------------------------------- bundled datasets


DATA_DIR = Path(__file__).resolve().parents[1] / "assets" / "data"

BUNDLED_DATASETS: dict[str, BundledDataset] = {
    d.name: d
    for d in (
        BundledDataset("math", DATA_DIR / "math.jsonl", "finetune",
                       "Arithmetic word problems; each answer ends with 'The answer is N.' (exact match).", "math"),
        BundledDataset("pirate", DATA_DIR / "pirate.jsonl", "finetune",
                       "Everyday questions answered in pirate speak ('Ahoy, matey! … Arr!'), a style the base "
                       "model never uses.", "style"),
        BundledDataset("knowledge", DATA_DIR / "knowledge.jsonl", "preserve",
                       "World-knowledge questions with short answers (capitals, science, language), "
                       "mostly answered right by the bundled model.", "exact",
                       choices=DATA_DIR / "knowledge_choices.jsonl"),
        BundledDataset("safety", DATA_DIR / "safety.jsonl", "preserve",
                       "Mildly harmful requests paired with refusals.", "refusal"),
    )
}


def bundled_dataset(name: str) -> Examples:
    """A bundled teaching dataset by name (see :data:`BUNDLED_DATASETS` and assets/data/README.md)."""
    check(name in BUNDLED_DATASETS,
          f"Unknown bundled dataset {name!r}: choose one of {', '.join(BUNDLED_DATASETS)}.")
    info = BUNDLED_DATASETS[name]
    check(info.path.is_file(), f"Bundled dataset file {info.path} is missing: run `python assets/data/generate.py`.")
    return load_examples(info.path, name=name)


def bundled_choices(name: str) -> dict[str, list[str]]:
    """prompt -> [right answer, *wrong answers] of a bundled set with multiple choices ({} for the others)."""
    check(name in BUNDLED_DATASETS,
          f"Unknown bundled dataset {name!r}: choose one of {', '.join(BUNDLED_DATASETS)}.")
    path = BUNDLED_DATASETS[name].choices
    if path is None:
        return {}
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {r["prompt"]: [r["answer"], *r["distractors"]] for r in records}
