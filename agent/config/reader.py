"""A small typed reader over one TOML table that records problems instead of raising.

Reading goes on after a bad value so that ``check-config`` can list every problem at once;
each problem is one line ``FILE: KEY: why``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_BARE_KEY = re.compile(r"[A-Za-z0-9_\[\]-]+")


@dataclass
class Problems:
    """Problems found in one config file, in the order they were found."""

    file: str
    lines: list[str] = field(default_factory=list)

    def add(self, key: str, why: str) -> None:
        self.lines.append(f"{self.file}: {key}: {why}")


class Table:
    """Typed access to one TOML table; keys that are never read are reported as unknown."""

    def __init__(self, problems: Problems, path: str, data: object) -> None:
        self.problems = problems
        self.path = path
        self._seen: set[str] = set()
        self._bad: set[str] = set()
        if isinstance(data, Mapping):
            self._data: Mapping[str, object] = data
        else:
            problems.add(path, f"must be a table, got {describe_kind(data)}")
            self._data = {}

    def key(self, name: str) -> str:
        # A key TOML allows but a line cannot show as is (empty, spaces, a newline) is quoted
        # the way TOML writes it, so each problem stays one readable line.
        shown = name if _BARE_KEY.fullmatch(name) else json.dumps(name)
        return f"{self.path}.{shown}" if self.path else shown

    def names(self) -> list[str]:
        return list(self._data)

    def has(self, name: str) -> bool:
        return name in self._data

    def raw(self, name: str) -> object:
        self._seen.add(name)
        return self._data.get(name)

    def bad(self, name: str, why: str) -> None:
        self._bad.add(name)
        self.problems.add(self.key(name), why)

    def ok(self, name: str) -> bool:
        """Present and so far valid: further checks on it would not just repeat a problem."""
        return name in self._data and name not in self._bad

    def table(self, name: str, *, required: bool = False) -> Table | None:
        if name not in self._data:
            if required:
                self.bad(name, "missing table")
            return None
        return Table(self.problems, self.key(name), self.raw(name))

    def _get(self, name: str, kind: type[T], default: T | None, kind_name: str) -> T | None:
        if name not in self._data:
            if default is None:
                self.bad(name, "missing required key")
            return default
        value = self.raw(name)
        # bool is an int in Python; a TOML `true` must not pass as a number.
        if isinstance(value, bool) and kind is not bool:
            self.bad(name, f"must be {kind_name}, got a boolean")
            return default
        if kind is float and isinstance(value, int):
            return float(value)  # type: ignore[return-value]
        if not isinstance(value, kind):
            self.bad(name, f"must be {kind_name}, got {describe_kind(value)}")
            return default
        return value

    def string(self, name: str, default: str | None = None, *, pattern: str | None = None) -> str:
        value = self._get(name, str, default, "a string")
        if value is None:
            return ""
        if pattern is not None and name in self._data and not re.fullmatch(pattern, value):
            self.bad(name, f"must match {pattern}, got {value!r}")
        return value

    def optional_string(self, name: str) -> str | None:
        if name not in self._data:
            return None
        return self.string(name)

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.string(name, default)
        if name in self._data and value not in choices:
            self.bad(name, f"must be one of {', '.join(choices)}; got {value!r}")
            return default if default is not None else choices[0]
        return value

    def integer(
        self,
        name: str,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = self._get(name, int, default, "an integer")
        if value is None:
            return minimum if minimum is not None else 0
        if minimum is not None and value < minimum:
            self.bad(name, f"must be at least {minimum}, got {value}")
            return default if default is not None else minimum
        if maximum is not None and value > maximum:
            self.bad(name, f"must be at most {maximum}, got {value}")
            return default if default is not None else maximum
        return value

    def optional_integer(
        self, name: str, *, minimum: int | None = None, maximum: int | None = None
    ) -> int | None:
        if name not in self._data:
            return None
        return self.integer(name, minimum=minimum, maximum=maximum)

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self._get(name, float, default, "a number")
        if value is None:
            return minimum if minimum is not None else 0.0
        if minimum is not None and value < minimum:
            self.bad(name, f"must be at least {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            self.bad(name, f"must be at most {maximum:g}, got {value:g}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, bool, default, "true or false")
        return bool(value)

    def file_path(
        self, name: str, base: Path, *, must_exist: bool, secret: bool = False
    ) -> Path | None:
        """A path relative to the config file's folder; optionally required to be readable.

        For a key naming a secret's file the missing path is not echoed: an operator who put
        the password itself in `password_file` must not see it printed (or logged) back.
        """
        text = self.optional_string(name)
        if not text:
            return None
        path = (base / text).resolve() if not Path(text).is_absolute() else Path(text)
        if must_exist and not path.is_file():
            shown = "(path not shown: it may hold a secret itself)" if secret else str(path)
            self.bad(name, f"file not found: {shown}")
        return path

    def finish(self) -> None:
        """Report every key of this table that no reader asked for."""
        for name in self._data:
            if name not in self._seen:
                self.bad(name, "unknown key")


def describe_kind(value: object) -> str:
    """How a problem line names a wrong value: `the string 'x'`, `an array`, `int 3`."""
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"{type(value).__name__} {value!r}"
