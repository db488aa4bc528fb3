"""Text hygiene and limits: the one normalisation of every text field, and the limits of the file readers.

:func:`normalise_text` gives every text field (``text``, prompt and response fields, chat ``content``) NFC,
plain line ends, no control characters and nothing invisible-only, whatever the file format; the limits
(nesting depth, line length, problems listed) bound what :mod:`sclora.readers` accepts and reports.
"""

from __future__ import annotations

import re
import unicodedata

MAX_JSON_DEPTH = 32  # brackets nested in a JSONL line, a JSON file or a CSV `messages` cell (records need 4)
MAX_LINE_CHARS = 2**17  # 131,072: a line of a JSONL/CSV/TSV/TXT file, and any one text value
MAX_PROBLEMS_PER_RECORD = 20  # a chat with thousands of broken messages lists the first 20
MAX_LISTED_LINES = 100  # file-level scans (bytes that are not UTF-8, control characters) list this many lines
PARQUET_MAX_EXPANSION = 8  # Parquet data may unpack to at most 8 x max_bytes (stated in its metadata)
# Characters that show nothing by themselves: a value made only of these and whitespace is empty.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"})
# Letters and symbols that render as blank space (Hangul fillers, braille blank, combining grapheme joiner).
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
# Control characters (Unicode category Cc) other than tab, newline and carriage return (a line end).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {0x00: "NUL", 0x07: "BELL", 0x08: "BACKSPACE", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED",
                  0x1B: "ESCAPE", 0x7F: "DELETE"}
_SURROGATE = re.compile("[\ud800-\udfff]")
# What breaks a message line (str.splitlines splits on all of these).
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def char_name(ch: str) -> str:
    """``'U+200B (ZERO WIDTH SPACE)'``, ``'U+0000 (NUL)'``."""
    code = ord(ch)
    name = _CONTROL_NAMES.get(code) or unicodedata.name(ch, "") or (
        "control character" if unicodedata.category(ch) == "Cc" else "unnamed character")
    return f"U+{code:04X} ({name})"


def is_invisible(text: str) -> bool:
    """True when nothing would show: the text is empty or holds only whitespace and invisible characters
    (zero-width spaces and joiners, word joiner, BOM, soft hyphen, other format and control characters,
    lone combining marks, Hangul fillers, braille blank)."""
    return all(ch.isspace() or ch in _INVISIBLE_EXTRA or unicodedata.category(ch) in _INVISIBLE_CATEGORIES
               for ch in text)


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of ``offset`` in ``text``."""
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def normalise_text(value, where: str, name: str, problems: list[str], *, allow_empty: bool = False) -> str | None:
    """The one normalisation of every text field (``text``, prompt and response fields, Alpaca's ``input``,
    chat ``content``), whatever the file format.

    The value must be a string of at most ``MAX_LINE_CHARS`` characters without lone surrogates. Line ends
    become ``\\n`` (``\\r\\n`` and ``\\r``), then Unicode NFC. Control characters other than tab and newline
    are refused with their line and column in the value. A value with nothing visible (only whitespace and
    invisible characters, see :func:`is_invisible`) is empty: refused, or ``""`` with ``allow_empty``.
    Returns the normalised string, or None with a problem added.
    """
    at = f"{where}, field {name!r}"
    if not isinstance(value, str):
        problems.append(f"{at}: expected a string, got {json_type(value)}")
        return None
    if len(value) > MAX_LINE_CHARS:
        problems.append(f"{at}: the value is {len(value):,} characters long, over the limit of "
                        f"{MAX_LINE_CHARS:,} characters (MAX_LINE_CHARS)")
        return None
    bad = _SURROGATE.search(value)
    if bad:
        line, column = position(value, bad.start())
        problems.append(f"{at}: a lone surrogate U+{ord(bad.group()):04X} at line {line}, column {column} of the "
                        "value is not a character (a broken \\u escape)")
        return None
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    bad = _CONTROL.search(value)
    if bad:
        line, column = position(value, bad.start())
        problems.append(f"{at}: control character {char_name(bad.group())} at line {line}, column {column} of the "
                        "value; only tab and newline are allowed in text")
        return None
    if is_invisible(value):
        if allow_empty:
            return ""
        shown = next((ch for ch in value if not ch.isspace()), None)
        problems.append(f"{at}: the value is empty" +
                        (f" (only invisible characters, such as {char_name(shown)})" if shown else ""))
        return None
    return value


def control_problems(text: str, name: str, field_name: str | None = None) -> list[str]:
    """A problem per line holding a control character (tab, newline and CR aside), with line and column."""
    problems: list[str] = []
    field = f", field {field_name!r}" if field_name else ""
    found = _CONTROL.search(text)
    line, pos = 1, 0
    while found is not None:
        if len(problems) == MAX_LISTED_LINES:
            problems.append(f"{name}: more lines hold control characters; the first {MAX_LISTED_LINES} are listed")
            break
        offset = found.start()
        line += text.count("\n", pos, offset)
        pos = offset
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        problems.append(f"{name} line {line}, column {column}{field}: control character {char_name(found.group())}; "
                        "only tab and newline are allowed in text")
        end = text.find("\n", offset)
        found = None if end < 0 else _CONTROL.search(text, end)
    return problems


def format_size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n} bytes"


def json_type(value) -> str:
    """How a value reads in a message: 'a number (42)', 'null', 'a list', …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({shorten(repr(value), 40)})"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"
