"""File readers: the layer under :func:`sclora.data.load_examples`.

The ``read_*`` functions turn the text of a JSONL, JSON, CSV, TSV, TXT or Parquet file into raw
``(where, record)`` items, within the limits of :mod:`sclora.text` (nesting depth, line length, record
count); every text field goes through its :func:`~sclora.text.normalise_text`. Which field names make which shape (``PAIR_FIELDS``, ``detect_shape``)
is here too, since a CSV header needs it; records are checked by :mod:`sclora.data`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import sys
from pathlib import Path

from .text import (MAX_JSON_DEPTH, MAX_LINE_CHARS, MAX_LISTED_LINES, PARQUET_MAX_EXPANSION, format_size, is_invisible,
                   json_type, position, shorten)

# (prompt field, response field), checked in this order; Alpaca's optional "input" joins the instruction.
PAIR_FIELDS = (("prompt", "response"), ("prompt", "completion"), ("instruction", "output"),
               ("question", "answer"), ("input", "output"))
RECOGNISED_HINT = ("'text'; 'prompt'+'response' (or 'prompt'+'completion', 'instruction'+'output', "
                   "'question'+'answer', 'input'+'output'); or 'messages' (a list of {role, content})")


# --------------------------------------------------------------------------- text hygiene and limits


_JSON_WHITESPACE = re.compile(r"[ \t\n\r]*")
# A line holding a non-whitespace character (blank lines are skipped at C speed); a run of such lines.
_CONTENT_LINE = re.compile(r"^[^\S\n]*\S[^\n]*", re.M)
_CONTENT_RUN = re.compile(r"^(?:[^\S\n]*\S[^\n]*(?:\n|\Z))++", re.M)
# A line without an ASCII letter, digit or symbol and without a letter or digit of any script: it may be
# invisible (checked with is_invisible). Hangul fillers are letters that show nothing.
_MAYBE_BLANK = re.compile("^(?:[^!-~\\w\n]|[\u115f\u1160\u3164\uffa0])*+$", re.M)
_LONG_LINE = re.compile(f"^[^\\n]{{{MAX_LINE_CHARS + 1}}}", re.M)


def _too_deep(text: str) -> int | None:
    """Offset of the first ``[`` or ``{`` nested deeper than ``MAX_JSON_DEPTH`` (outside strings), or None.

    Checked before ``json.loads``, whose parser recurses once per level. Vectorised (numpy) so that a
    20 MiB file takes under a second and a few times its size in memory. Escaped backslashes, then
    escaped quotes, are blanked (same length, left to right: a quote after an odd run of backslashes
    is escaped); brackets between the remaining quotes are string content.
    """
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    import numpy as np

    data = text.encode("utf-8", "surrogatepass").replace(b"\\\\", b"__").replace(b'\\"', b"__")
    raw = np.frombuffer(data, dtype=np.uint8)
    string, level = False, 0  # carried from one chunk to the next
    for start in range(0, raw.size, 2**20):
        part = raw[start:start + 2**20]
        in_string = np.bitwise_xor.accumulate(part == 0x22) ^ string
        steps = ((part == 0x5B) | (part == 0x7B)).view(np.int8) - ((part == 0x5D) | (part == 0x7D)).view(np.int8)
        steps[in_string] = 0
        depth = np.cumsum(steps, dtype=np.int32) + level
        deeper = np.flatnonzero(depth > MAX_JSON_DEPTH)
        if deeper.size:
            return len(data[:start + int(deeper[0])].decode("utf-8", "surrogatepass"))
        string, level = bool(in_string[-1]), int(depth[-1])
    return None


def _too_deep_problem(where: str, column: int | None = None) -> str:
    at = f"{where}, column {column}" if column else where
    return (f"{at}: JSON nested more than {MAX_JSON_DEPTH} levels deep (MAX_JSON_DEPTH); "
            "records need at most 4 levels")


def _long_line(where: str, length: int) -> str:
    return (f"{where}: the line is {length:,} characters long, over the limit of {MAX_LINE_CHARS:,} characters "
            "(MAX_LINE_CHARS)")


def _content_lines(text: str, pos: int = 0, endpos: int | None = None, number: int = 1):
    """(line number, start offset, line) of each line holding a non-whitespace character, from ``pos``
    (a line start, on line ``number``) without splitting the whole text."""
    for found in _CONTENT_LINE.finditer(text, pos, len(text) if endpos is None else endpos):
        number += text.count("\n", pos, found.start())
        pos = found.start()
        yield number, pos, found.group()


def _json_reason(exc: ValueError) -> str:
    """json's reason for refusing a text; a ValueError that is no JSONDecodeError is a huge integer."""
    if isinstance(exc, json.JSONDecodeError):
        return exc.msg
    if "integer string conversion" in str(exc):
        return f"a number with more than {sys.get_int_max_str_digits()} digits"
    return shorten(str(exc))


def _invalid_json(where: str, exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{where}: invalid JSON ({exc.msg} at column {exc.colno})"
    return f"{where}: invalid JSON ({_json_reason(exc)})"


# --------------------------------------------------------------------------- shapes of field names


def detect_shape(keys: set[str]) -> tuple[str, tuple[str, str] | None] | None:
    """(shape, (prompt field, response field)) for lowercase ``keys``, or None."""
    if "messages" in keys:
        return "chat", None
    for pair in PAIR_FIELDS:
        if pair[0] in keys and pair[1] in keys:
            return "prompt_response", pair
    if "text" in keys:
        return "text", None
    return None


def partial_pair(keys: set[str]) -> str:
    """'field 'prompt' has no matching 'response'…' when half of a pair is there, else ''."""
    for key in sorted(keys):
        partners = [b for a, b in PAIR_FIELDS if a == key] or [a for a, b in PAIR_FIELDS if b == key]
        if partners:
            return f"field {key!r} has no matching {' or '.join(map(repr, dict.fromkeys(partners)))}"
    return ""


# --------------------------------------------------------------------------- reading files


def decode_text(raw: bytes, name: str) -> tuple[str, list[str]]:
    """UTF-8 text (a UTF-8 BOM is dropped), or the problems: each undecodable line with its byte."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "", [f"{name}: the file is UTF-16 encoded (it starts with a UTF-16 byte order mark); "
                    "save it as UTF-8"]
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    problems = []
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            if len(problems) == MAX_LISTED_LINES:
                problems.append(f"{name}: more lines are not valid UTF-8; the first {MAX_LISTED_LINES} are listed")
                break
            problems.append(
                f"{name} line {number}: byte 0x{line[exc.start]:02x} at column {exc.start + 1} is not valid UTF-8 "
                "(the file may be Latin-1 or Windows-1252); save it as UTF-8"
            )
    return "", problems


def read_jsonl(text: str, name: str, problems: list[str], max_records: int) -> tuple[list, bool]:
    """(items, more): at most ``max_records`` records are read; ``more`` says the file has further ones."""
    items, read = [], 0
    for number, _, line in _content_lines(text):
        if is_invisible(line):
            continue  # blank lines between records are harmless
        if read == max_records:
            return items, True
        read += 1
        where = f"{name} line {number}"
        if len(line) > MAX_LINE_CHARS:
            problems.append(_long_line(where, len(line)))
            continue
        deep = _too_deep(line)
        if deep is not None:
            problems.append(_too_deep_problem(where, deep + 1))
            continue
        try:
            items.append((f"line {number}", json.loads(line)))
        except ValueError as exc:
            problems.append(_invalid_json(where, exc))
    return items, False


_TOP_LEVEL = {"{": "an object", '"': "a string", "t": "a boolean", "f": "a boolean", "n": "null"}


def read_json(text: str, name: str, problems: list[str], max_records: int) -> tuple[list, bool]:
    """An array of records, read one record at a time up to ``max_records``."""
    deep = _too_deep(text)
    if deep is not None:
        line, column = position(text, deep)
        problems.append(_too_deep_problem(f"{name} line {line}", column))
        return [], False
    decoder = json.JSONDecoder()
    pos = _JSON_WHITESPACE.match(text).end()

    def fail(message: str, at: int) -> tuple[list, bool]:
        line, column = position(text, at)
        problems.append(f"{name} line {line}: invalid JSON ({message} at column {column})")
        return [], False

    if not text.startswith("[", pos):
        kind = _TOP_LEVEL.get(text[pos:pos + 1])
        if kind is None:
            try:
                value, _ = decoder.raw_decode(text, pos)  # a number, or not JSON at all
            except json.JSONDecodeError as exc:
                return fail(exc.msg, exc.pos)
            except ValueError as exc:
                return fail(_json_reason(exc), pos)
            kind = json_type(value)
        problems.append(f"{name}: the top level is {kind}, expected an array of records ([{{...}}, {{...}}]); "
                        "for one record per line use a .jsonl file")
        return [], False
    items: list[tuple[str, object]] = []
    pos = _JSON_WHITESPACE.match(text, pos + 1).end()
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            if len(items) == max_records:
                return items, True
            try:
                value, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                return fail(exc.msg, exc.pos)
            except ValueError as exc:
                return fail(_json_reason(exc), pos)
            items.append((f"record {len(items) + 1}", value))
            pos = _JSON_WHITESPACE.match(text, pos).end()
            if text.startswith(",", pos):
                pos = _JSON_WHITESPACE.match(text, pos + 1).end()
            elif text.startswith("]", pos):
                pos += 1
                break
            else:
                return fail("Expecting ',' delimiter", pos)
    pos = _JSON_WHITESPACE.match(text, pos).end()
    if pos != len(text):
        return fail("Extra data", pos)
    return items, False


class _LineTooLong(Exception):
    def __init__(self, number: int, length: int):
        super().__init__(number, length)
        self.number, self.length = number, length


def _checked_lines(text: str):
    """The lines of ``text`` for the csv reader, refusing one over ``MAX_LINE_CHARS`` before it is parsed."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line) > MAX_LINE_CHARS and len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
            raise _LineTooLong(number, len(line.rstrip("\r\n")))
        yield line


def read_delimited(text: str, name: str, delimiter: str, problems: list[str],
                    max_records: int) -> tuple[list, bool]:
    kind = "TSV" if delimiter == "\t" else "CSV"
    reader = csv.reader(_checked_lines(text), delimiter=delimiter)

    def unreadable(exc: Exception, number: int, what: str) -> None:
        if isinstance(exc, _LineTooLong):
            problems.append(_long_line(f"{name} line {exc.number}", exc.length))
        elif "field larger than field limit" in str(exc):  # a quoted cell over several lines
            problems.append(f"{name} line {number}: a cell is longer than the limit of {MAX_LINE_CHARS:,} characters "
                            "(MAX_LINE_CHARS)")
        else:
            problems.append(f"{name} line {number}: the {kind} {what} ({exc})")

    try:
        header = next(reader)
    except StopIteration:
        return [], False
    except (csv.Error, _LineTooLong) as exc:
        unreadable(exc, 1, "header cannot be read")
        return [], False
    header = [h.strip() for h in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        problems.append(f"{name} line 1: column {shorten(', '.join(map(repr, repeated)), 200)} appears more than once "
                        "in the header")
        return [], False
    columns = {h.lower() for h in header}
    found = detect_shape(columns)
    if found is None:
        partial = partial_pair(columns)
        problems.append(
            f"{name} line 1: the {kind} header has no usable columns (found {shorten(', '.join(map(repr, header)), 200)}); "
            + (partial if partial else f"expected columns {RECOGNISED_HINT}")
        )
        return [], False
    items, read = [], 0
    try:
        for row in reader:
            number = reader.line_num
            if all(is_invisible(cell) for cell in row):
                continue
            if read == max_records:
                return items, True
            read += 1
            if len(row) != len(header):
                problems.append(f"{name} line {number}: the row has {len(row)} fields but the header has {len(header)}")
                continue
            record: dict[str, object] = dict(zip(header, row))
            if found[0] == "chat":  # a messages cell holds the list as JSON text
                key = next(h for h in header if h.lower() == "messages")
                cell = record[key]
                if is_invisible(cell):
                    pass  # an empty cell: "the value is empty" below
                elif _too_deep(cell) is not None:
                    problems.append(_too_deep_problem(f"{name} line {number}, field 'messages'"))
                    continue
                else:
                    try:
                        record[key] = json.loads(cell)
                    except ValueError as exc:
                        reason = _json_reason(exc)
                        problems.append(f"{name} line {number}, field 'messages': the cell is not valid JSON ({reason})")
                        continue
            items.append((f"line {number}", record))
    except (csv.Error, _LineTooLong) as exc:
        unreadable(exc, reader.line_num, "cannot be parsed")
    return items, False


def _txt_blocks(text: str):
    """(first line number, start offset, end offset, line count) of each run of consecutive lines with
    something visible, found with regular expressions (a 20 MiB file in well under a second): a line of
    only invisible characters splits a run, like a blank line."""
    number, pos = 1, 0
    for run in _CONTENT_RUN.finditer(text):
        number += text.count("\n", pos, run.start())
        pos = run.start()
        end = run.end() - 1 if run.group().endswith("\n") else run.end()
        cuts = [(m.start(), m.end()) for m in _MAYBE_BLANK.finditer(text, pos, end)
                if m.end() > m.start() and is_invisible(m.group())]
        start, first = pos, number
        for cut_start, cut_end in cuts + [(end, end)]:
            if cut_start > start:
                piece_end = cut_start - 1 if cut_start < end else end  # without the newline before the cut
                yield first, start, piece_end, text.count("\n", start, piece_end) + 1
            first += text.count("\n", start, cut_end) + (1 if cut_end < end else 0)
            start = cut_end + 1


def read_txt(text: str, name: str, problems: list[str], max_records: int) -> tuple[str, list, bool]:
    """One example per non-empty line; blocks separated by blank lines when there are blank-line
    separated blocks and at least one of them has several lines. Lines with nothing visible are blank.
    The layout is detected from what is read: reading stops after ``max_records`` lines while the file
    looks like lines, after ``max_records`` blocks once it has blocks."""
    blocks: list[tuple[int, int, int, int]] = []
    seen, multi, more = 0, False, False
    for block in _txt_blocks(text):
        as_blocks = len(blocks) > 1 and multi
        if (as_blocks and len(blocks) == max_records) or (not as_blocks and seen >= max_records):
            more = True
            break
        first, start, end, count = block
        for long in _LONG_LINE.finditer(text, start, end):
            line_end = text.find("\n", long.start(), end)
            length = len(text[long.start():end if line_end < 0 else line_end].rstrip("\r"))
            if length > MAX_LINE_CHARS:  # a CRLF line of exactly the limit is not too long
                problems.append(_long_line(f"{name} line {first + text.count(chr(10), start, long.start())}", length))
        blocks.append(block)
        seen += count
        multi = multi or count > 1
        if len(blocks) > 1 and multi and end - start > MAX_LINE_CHARS:
            break  # this block is too long and the file is refused: nothing after it is needed
    if problems:
        return "txt-lines", [], False
    if len(blocks) > 1 and multi:
        items = []
        for number, start, end, _ in blocks:
            block = text[start:end]
            if "\r" in block:  # CRs at line ends go, as in lines mode (a lone CR inside a line is a line end)
                block = "\n".join(line.rstrip("\r") for line in block.split("\n"))
            items.append((f"line {number}", {"text": block.strip()}))
        return "txt-blocks", items, more
    items = []
    for first, start, end, _ in blocks:
        for number, _, line in _content_lines(text, start, end, first):
            if is_invisible(line):
                continue
            if len(items) == max_records:
                return "txt-lines", items, True
            items.append((f"line {number}", {"text": line.strip()}))
    return "txt-lines", items, more


class _TooDeep(Exception):
    pass


def _plain(value, depth: int = 0):
    """Parquet cells (numpy arrays, NaN) as plain Python values."""
    if depth > MAX_JSON_DEPTH:
        raise _TooDeep
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    return value


def read_parquet(path: Path, name: str, problems: list[str], max_records: int,
                  max_bytes: int) -> tuple[list, bool]:
    """The first ``max_records`` rows; the uncompressed size the file states is checked before reading."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        problems.append(f"{name}: reading Parquet needs pandas and pyarrow (pip install pyarrow)")
        return [], False
    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        limit = PARQUET_MAX_EXPANSION * max_bytes
        if unpacked > limit:
            problems.append(f"{name}: the Parquet data unpacks to {format_size(unpacked)}, over the limit of "
                            f"{format_size(limit)} ({PARQUET_MAX_EXPANSION} x max_bytes)")
            return [], False
        batch = next(parquet.iter_batches(batch_size=max_records), None)
        table = pa.Table.from_batches([batch] if batch is not None else [], schema=parquet.schema_arrow)
        table.validate(full=True)  # e.g. string cells that are not UTF-8 (pyarrow does not check when reading)
        rows = table.to_pandas().to_dict("records")
        more = meta.num_rows > len(rows)
    except Exception as exc:  # pyarrow raises several types for damaged files
        problems.append(f"{name}: not a readable Parquet file ({type(exc).__name__}: {shorten(str(exc), 200)})")
        return [], False
    items = []
    for i, row in enumerate(rows, start=1):
        try:
            items.append((f"row {i}", {str(k): _plain(v) for k, v in row.items()}))
        except _TooDeep:
            problems.append(_too_deep_problem(f"{name} row {i}"))
    return items, more
