"""Checks of user-supplied values that every interface shares (API bodies, imports): what no column can hold."""

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from heliox.errors import InputError

MAX_JSON_DEPTH = 32  # nesting of objects and arrays in a JSON value (metadata, request bodies)


def text_problem(text: str) -> str:
    """Why `text` cannot be stored ('' when it can): PostgreSQL text holds no NUL, UTF-8 no lone surrogate."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (not valid Unicode)"
    return ""


# C0 and C1 control characters (tab, newline, escape...): no name holds one (a CSV cell or an API string can).
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def name_problem(text: str) -> str:
    """Why `text` cannot be a name (a team, a model, an id...; '' when it can): text_problem's reasons, or a
    control character, which no name holds and which would garble the CSV, tables and alerts that show it."""
    found = CONTROL.search(text)
    return text_problem(text) or (f"contains a control character (U+{ord(found.group()):04X})" if found else "")


def validate_name(value: str) -> None:
    """A model field validator: name_problem as a ValidationError."""
    problem = name_problem(value)
    if problem:
        raise ValidationError(problem)


def json_problem(value: object, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[str, str] | None:
    """The first part of a parsed JSON value that cannot be stored, as (where, why); None when all can.

    `where` is a path such as `metadata.tags[2]` ('' for the value itself). Strings and
    keys are checked with text_problem; objects and arrays may nest `max_depth` deep.
    Iterative, so that depth itself cannot exhaust the stack.
    """
    stack = [(value, "", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return where, problem
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > max_depth:
            return where, f"nested deeper than {max_depth} levels"
        if isinstance(item, dict):
            children = []
            for key, child in item.items():
                path = f"{where}.{key}" if where else str(key)
                problem = text_problem(key) if isinstance(key, str) else ""
                if problem:
                    return path, f"key {problem}"
                children.append((child, path, depth + 1))
        else:
            children = [(child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item)]
        stack.extend(reversed(children))
    return None


REQUIRED = object()  # parse_decimal's default: an empty value is an error


def parse_decimal(
    value: object,
    *,
    path: str = "",
    line: int | None = None,
    field: str = "",
    key: str = "",
    default: object = REQUIRED,
    non_negative: bool = False,
) -> Decimal | None:
    """A number from a file or a request, exactly (Decimal, never float); InputError naming where it was.

    An empty value (or None) gives `default`, or is "not a number" without one. Infinity
    and NaN are refused; with `non_negative`, so are numbers below zero.
    """
    text = "" if value is None else str(value).strip()
    if not text and default is not REQUIRED:
        return default  # type: ignore[return-value]
    where = {"path": path, "line": line, "field": field, "key": key}
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InputError("not a number", **where, value=text) from None
    if non_negative and (not number.is_finite() or number < 0):
        raise InputError("must be a number >= 0", **where, value=text)
    if not number.is_finite():
        raise InputError("not a finite number", **where, value=text)
    return number
