"""Reading files that users hand in, in bounded memory whatever their size or compression.

Every importer and catalog loader reads through these: a line, a CSV field, a CSV
header and a JSON value each have a ceiling, checked as the bytes stream in (before
they are decoded or parsed), so a small gzip file that expands to a gigabyte on one
line, or a one-line JSON array of a gigabyte, is refused with the file and line (or
item) named instead of filling memory. Compressed or not makes no difference: gzip is
recognised by its magic number and decompressed as a stream.
"""

import csv
import gzip
import json
import re
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO

import ijson

from heliox.errors import InputError
from heliox.validation import MAX_JSON_DEPTH, json_problem, text_problem

CHUNK = 1 << 20
MAX_LINE_BYTES = 1 << 20  # a line of any text file: CSV row, sacct line, JSON Lines item
MAX_FIELD_CHARS = 131_072  # a CSV field (csv's default limit, now a clear error), quoted line breaks included
MAX_COLUMNS = 1_000  # a CSV header: FOCUS has ~50 columns, SkyPilot ~12
MAX_JSON_VALUE_BYTES = 1 << 20  # one item of a JSON array, one entry of a JSON object
JSON_READ_AHEAD = 1 << 16  # what the JSON parser reads at a time: a value may pass the ceiling by this much

csv.field_size_limit(MAX_FIELD_CHARS)  # process-wide: every csv reader of Heliox gets the same ceiling


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, transparently gunzipped when it starts with gzip's magic number."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else path.open("rb")


def _gzip_error(path: Path, line: int | None = None) -> InputError:
    return InputError("not a valid gzip file (truncated or corrupt)", path=str(path), line=line)


def read_lines(path: Path) -> Iterator[bytes]:
    """The file's lines as bytes (endings kept), none longer than MAX_LINE_BYTES.

    Lines end at \\n; a lone \\r also ends one (old Mac files), as universal newlines do.
    """
    with open_binary(path) as raw:
        number = 0
        while True:
            try:
                line = raw.readline(MAX_LINE_BYTES + 1)
            except (OSError, EOFError, gzip.BadGzipFile):
                raise _gzip_error(path, number + 1) from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                raise InputError(f"line longer than {MAX_LINE_BYTES:,} bytes", path=str(path), line=number)
            cr = line.find(b"\r")
            if cr != -1 and cr < len(line) - 2:
                yield from line.splitlines(keepends=True)
            else:
                yield line


def open_text(path: Path) -> Iterator[str]:
    """Lines of a text file, plain or gzip, decoded as UTF-8 (a BOM is dropped), each at most MAX_LINE_BYTES."""
    for number, line in enumerate(read_lines(path), start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"not UTF-8 text ({error.reason})", path=str(path), line=number) from None


class CsvReader(csv.DictReader):
    """csv.DictReader over open_text(path): bounded lines, fields and header; its errors name the file and line."""

    def __init__(self, path: Path, **kwargs) -> None:
        self.path = str(path)
        super().__init__(open_text(path), **kwargs)

    def _fail(self, error: csv.Error) -> InputError:
        message = str(error)
        if "field larger than field limit" in message:
            message = f"a field longer than {MAX_FIELD_CHARS:,} characters"
        return InputError(f"not valid CSV ({message})", path=self.path, line=max(self.reader.line_num, 1))

    @property
    def fieldnames(self):
        if self._fieldnames is None:
            try:
                names = super().fieldnames
            except csv.Error as error:
                raise self._fail(error) from None
            if names is not None and len(names) > MAX_COLUMNS:
                raise InputError(f"more than {MAX_COLUMNS:,} columns", path=self.path, line=1)
            repeated = repeated_column(names or [])
            if repeated:  # csv.DictReader would keep the last one's values and drop the others' silently
                raise InputError(f"column {repeated!r} appears more than once in the header", path=self.path, line=1)
        return self._fieldnames

    @fieldnames.setter
    def fieldnames(self, value):
        self._fieldnames = value

    def __next__(self) -> dict:
        try:
            return super().__next__()
        except csv.Error as error:
            raise self._fail(error) from None


def repeated_column(names: list[str]) -> str | None:
    """The first column name of the header that is there twice (blank ones aside: no column is read by them)."""
    seen: set[str] = set()
    for name in names:
        if name.strip() and name in seen:
            return name
        seen.add(name)
    return None


def csv_header(path: Path) -> list[str]:
    """The first row of a CSV file (the header), read as bounded as the rest."""
    return list(CsvReader(path).fieldnames or [])


def json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, value) of each non-blank line of a JSON Lines file; errors name the line."""
    for number, text in enumerate(open_text(path), start=1):
        if not text.strip():
            continue
        yield number, loads(text, path=str(path), line=number)


def loads(text: str, *, path: str = "", line: int | None = None, field: str = "") -> object:
    """json.loads, with every way it can fail (syntax, depth, NUL, lone surrogates) an InputError."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON ({error.msg})", path=path, line=line, field=field) from None
    except (RecursionError, ValueError) as error:  # nesting past the interpreter's limit; an int of 5,000 digits
        raise InputError(f"not valid JSON ({type(error).__name__})", path=path, line=line, field=field) from None
    _check_value(value, path=path, line=line, field=field)
    return value


def _check_value(value: object, *, path: str, line: int | None, field: str) -> None:
    problem = json_problem(value)
    if problem:
        where, message = problem
        raise InputError(message, path=path, line=line, field=".".join(filter(None, (field, where))))


STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)  # a complete JSON string
NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
DEPTH_STEP = [0] * 256
DEPTH_STEP[ord("[")] = DEPTH_STEP[ord("{")] = 1
DEPTH_STEP[ord("]")] = DEPTH_STEP[ord("}")] = -1


SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800-\udfff: half of a pair, or alone


def _lone_surrogate(string: bytes) -> bool:
    """Does this complete JSON string escape half a surrogate pair alone? (ijson's C parser stores it as '?')"""
    if not SURROGATE_ESCAPE.search(string):
        return False
    try:
        text = json.loads(string)
    except ValueError:
        return False  # not valid JSON: the parser says so
    return any("\ud800" <= char <= "\udfff" for char in text)


class _Metered:
    """A binary stream for the JSON parser that refuses a value too large or too deep before the parser sees it.

    At most `limit` bytes between two calls of `mark()` (one value), and no nesting
    deeper than `max_depth`: ijson's memory grows with the square of the depth, so
    depth is measured here on the bytes, outside strings, at C speed (regex, translate,
    accumulate).
    """

    def __init__(self, raw: BinaryIO, limit: int, max_depth: int, max_total: int | None = None) -> None:
        self.raw, self.limit, self.max_depth, self.max_total = raw, limit, max_depth, max_total
        self.count, self.since, self.depth, self.pending = 0, 0, 0, b""
        self.problem, self.anywhere = "", False

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes the stream's type with read(0)
            return b""
        data = self.raw.read(size if size > 0 else JSON_READ_AHEAD)
        self.count += len(data)
        if self.count - self.since > self.limit + JSON_READ_AHEAD:
            self.problem = f"a JSON value longer than {self.limit:,} bytes"
            raise ValueError(self.problem)
        if self.max_total is not None and self.count > self.max_total:
            self.problem = f"larger than {self.max_total:,} bytes"
            raise ValueError(self.problem)
        self._measure_depth(data)
        return data

    def _measure_depth(self, data: bytes) -> None:
        text = self.pending + data
        lone = SURROGATE_ESCAPE.search(text) and next(filter(_lone_surrogate, STRING.findall(text)), None)
        if lone:  # ijson would read it as '?'. Named by its text: reading ahead, the item is not known yet
            self.problem = f"{text_problem(chr(0xD800))}: {lone[:80].decode(errors='replace')}"
            self.anywhere = True
            raise ValueError(self.problem)
        text = STRING.sub(b"", text)
        quote = text.find(b'"')  # a string that goes on in the next read: measured then
        text, self.pending = (text, b"") if quote == -1 else (text[:quote], text[quote:])
        brackets = text.translate(None, NOT_BRACKETS)
        if not brackets:
            return
        depths = list(accumulate(map(DEPTH_STEP.__getitem__, brackets), initial=self.depth))
        self.depth = depths[-1]
        if max(depths) > self.max_depth:
            self.problem = f"nested deeper than {self.max_depth - 1} levels"
            raise ValueError(self.problem)

    def mark(self) -> None:
        self.since = self.count


def first_byte(path: Path) -> bytes:
    """The first byte that is not whitespace ('' for an empty file), read in chunks: any file size."""
    with open_binary(path) as raw:
        while True:
            try:
                chunk = raw.read(CHUNK)
            except (OSError, EOFError):  # gzip.BadGzipFile is an OSError
                raise _gzip_error(path) from None
            if not chunk:
                return b""
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1]


def _stream_json(path: Path, walk, label: str, max_total: int | None = None):
    """Yield what `walk(metered handle)` yields, one JSON value at a time, each at most MAX_JSON_VALUE_BYTES."""
    name = str(path)
    with open_binary(path) as raw:
        metered = _Metered(raw, MAX_JSON_VALUE_BYTES, MAX_JSON_DEPTH + 1, max_total)  # + the array or object around
        index = 0
        try:
            for index, entry in enumerate(walk(metered), start=1):
                metered.mark()
                yield index, entry
        except (ijson.JSONError, ValueError, RecursionError, OSError, EOFError) as error:
            if metered.problem:
                field = "" if metered.anywhere else f"{label} {index + 1}"
                raise InputError(metered.problem, path=name, field=field) from None
            raise InputError(f"not valid JSON ({error})", path=name, field=f"{label} {index + 1}") from None


def json_array_items(path: Path) -> Iterator[tuple[int, object]]:
    """(1-based index, value) of each item of a top-level JSON array, streamed; each item bounded and checked."""

    def walk(handle):
        return ijson.items(handle, "item", use_float=True, buf_size=JSON_READ_AHEAD)

    for index, item in _stream_json(path, walk, "item"):
        _check_value(item, path=str(path), line=None, field=f"item {index}")
        yield index, item


def json_object_items(path: Path, *, max_bytes: int | None = None) -> Iterator[tuple[str, object]]:
    """(key, value) of each entry of a top-level JSON object, streamed; each value bounded and checked.

    Numbers are Decimal (exact prices), not float. `max_bytes` bounds the whole file, for
    a caller that must hold every entry.
    """
    if first_byte(path) != b"{":
        raise InputError("expected a JSON object", path=str(path))

    def walk(handle):
        return ijson.kvitems(handle, "", buf_size=JSON_READ_AHEAD)

    for _, (key, value) in _stream_json(path, walk, "entry", max_bytes):
        _check_value(value, path=str(path), line=None, field=key[:200])
        yield key, value


__all__ = ["MAX_JSON_DEPTH", "CsvReader", "csv_header", "json_array_items", "json_lines", "json_object_items",
           "loads", "open_binary", "open_text", "read_lines"]  # fmt: skip
