"""A small JSON Schema checker for the firmware configs: the subset of keywords they use
(`type`, `properties`, `required`, `additionalProperties`, `enum`, `const`, ranges, patterns,
`items`) plus a few `x-` keywords for ESPHome's tags and units. Each problem is one line
`FILE: KEY: why`, like the TOML loader's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent.config.esphome_yaml import Tagged
from agent.config.reader import Problems

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "empty",
}
TRUE_WORDS = {"true", "yes", "on", "enable"}
_FALSE = {"false", "no", "off", "disable"}
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "sec": 1000.0, "min": 60_000.0, "h": 3.6e6}


def check(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> None:
    shown = key or "(file)"
    if isinstance(value, Tagged):
        accepted = (schema.get("x-tag"), *schema.get("x-tags", ()))
        if value.tag in accepted or not ("type" in schema or "x-tag" in schema):
            return
        problems.add(shown, f"must be {_expected(schema)}, not a !{value.tag}")
        return
    if "x-tag" in schema:
        tag = schema["x-tag"]
        problems.add(shown, f"must be a !{tag} (kept in secrets.yaml, not in this file)")
        return
    if schema.get("x-ensure-list") and not isinstance(value, list):
        value = [value]
    converted = _typed(value, schema)
    if converted is _MISMATCH:
        problems.add(shown, f"must be {_expected(schema)}, got {describe(value)}")
        return
    if "x-format" in schema:
        converted = formatted(converted, schema["x-format"])
        if converted is _MISMATCH:
            problems.add(shown, f"must be {_FORMATS[schema['x-format']]}, got {describe(value)}")
            return
    for rule in (_check_value, _check_object, _check_array):
        if rule(converted, schema, shown, problems):
            return


_MISMATCH = object()


def _typed(value: object, schema: Mapping[str, Any]) -> object:
    """ESPHome reads scalars loosely ("1883" is a port, "true" a boolean); so does this."""
    types = schema.get("type")
    if types is None:
        return value
    for kind in [types] if isinstance(types, str) else types:
        converted = _as(kind, value)
        if converted is not _MISMATCH:
            return converted
    return _MISMATCH


def _as(kind: str, value: object) -> object:  # noqa: PLR0911 - one return per JSON type
    if kind == "object":
        return value if isinstance(value, dict) else _MISMATCH
    if kind == "array":
        return value if isinstance(value, list) else _MISMATCH
    if kind == "null":
        return value if value is None else _MISMATCH
    if kind == "string":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        return str(value) if ok else _MISMATCH
    if kind == "boolean":
        text = str(value).lower() if isinstance(value, str | bool) else ""
        return True if text in TRUE_WORDS else False if text in _FALSE else _MISMATCH
    if isinstance(value, bool):
        return _MISMATCH
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
        return int(value)
    if kind == "number" and isinstance(value, float | str):
        try:
            return float(value)
        except ValueError:
            return _MISMATCH
    return _MISMATCH


_FORMATS = {"duration": "a time with a unit, like 100ms or 60s", "decibel": "a power like 3dBm"}


def formatted(value: object, fmt: str) -> object:
    if fmt == "duration":
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", str(value))
        if match is None or match[2] not in _UNITS_MS:
            return _MISMATCH
        return float(match[1]) * _UNITS_MS[match[2]]
    match = re.fullmatch(r"\s*(-?\d+)\s*(?:dbm?)?\s*", str(value), re.IGNORECASE)
    return int(match[1]) if match else _MISMATCH


def _check_value(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> bool:
    problem = None
    if "const" in schema and value != schema["const"]:
        why = f" ({schema['description']})" if "description" in schema else ""
        problem = f"must be {_show(schema['const'])}, got {_show(value)}{why}"
    elif "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(_show(v) for v in schema["enum"])
        problem = f"must be one of {choices}; got {_show(value)}"
    elif isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        problem = f"must match {schema['pattern']}, got {value!r}"
    elif isinstance(value, str) and len(value) < schema.get("minLength", 0):
        problem = "must not be empty"
    elif isinstance(value, int | float) and not isinstance(value, bool):
        unit = " ms" if schema.get("x-format") == "duration" else ""
        if "minimum" in schema and value < schema["minimum"]:
            problem = f"must be at least {schema['minimum']:g}{unit}, got {value:g}{unit}"
        elif "maximum" in schema and value > schema["maximum"]:
            problem = f"must be at most {schema['maximum']:g}{unit}, got {value:g}{unit}"
    if problem is not None:
        problems.add(key, problem)
    return problem is not None


def _check_object(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> bool:
    if not isinstance(value, dict):
        return False
    path = "" if key == "(file)" else key
    for name in schema.get("required", ()):
        if name not in value:
            problems.add(join(path, name), "missing required key")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        if name in properties:
            check(item, properties[name], join(path, str(name)), problems)
        elif extra is False:
            problems.add(join(path, str(name)), "unknown key")
        elif isinstance(extra, dict):
            check(item, extra, join(path, str(name)), problems)
    return True


def _check_array(value: object, schema: Mapping[str, Any], key: str, problems: Problems) -> bool:
    if not isinstance(value, list):
        return False
    if len(value) < schema.get("minItems", 0):
        problems.add(key, f"needs at least {schema['minItems']} items, got {len(value)}")
    for index, item in enumerate(value):
        if "items" in schema:
            check(item, schema["items"], f"{key}[{index}]", problems)
    return True


def _expected(schema: Mapping[str, Any]) -> str:
    if "x-tag" in schema:
        return f"a !{schema['x-tag']}"
    types = schema.get("type", [])
    names = [_TYPE_NAMES[t] for t in ([types] if isinstance(types, str) else types)]
    names += [f"a !{tag}" for tag in schema.get("x-tags", ())]
    return " or ".join(names) or "a value"


def describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {_show(value)}"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
