"""Reading config.json's sections into the config dataclasses: keys this version does not
know are ignored, the type of each known one is checked, and a wrong one is a UserError that
names its field (a string where a number belongs, a list where a section belongs)."""

from __future__ import annotations

import typing
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UserError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def json_kind(value: Any) -> str:
    """JSON's word for the kind of a decoded value ("object", "list", "number", ...)."""
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def section(value: Any, name: str) -> dict[str, Any]:
    """`value` when it is an object of settings; UserError naming `name` otherwise."""
    if not isinstance(value, dict):
        raise UserError(f"{name}: holds a {json_kind(value)}, not an object of settings.",
                        field=name)
    return value


_TYPES: dict[Any, tuple[Any, str]] = {  # a field's type: what passes, and its name
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    str: (lambda v: isinstance(v, str), "text"),
}


def _typed(value: Any, hint: Any, name: str) -> Any:
    """`value` checked against a field's type (an int is a float too); UserError otherwise."""
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = next(a for a in args if a is not type(None))
    if typing.get_origin(hint) is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        expected = "a list of names"
    elif hint in _TYPES:
        check, expected = _TYPES[hint]
        ok = check(value)
    else:
        return value
    if not ok:
        raise UserError(f"{name}: holds {value!r} ({json_kind(value)}), expected {expected}.",
                        field=name)
    return float(value) if hint is float else list(value) if isinstance(value, list) else value


_D = TypeVar("_D", bound="DataclassInstance")  # a config dataclass


def from_known_fields(cls: type[_D], data: dict[str, Any], **extra: Any) -> _D:
    """Build a dataclass from a dict, ignoring keys it does not know (newer or older files) and
    checking the type of those it knows."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in fields(cls)} - set(extra)
    return cls(**{k: _typed(v, hints[k], k) for k, v in data.items() if k in names}, **extra)
