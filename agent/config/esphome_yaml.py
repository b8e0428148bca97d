"""ESPHome YAML as far as validating it needs: tags kept, duplicate keys refused, and
`substitutions` applied (`${name}` and `$name`), the way ESPHome reads its files."""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config.reader import Problems


@dataclass(frozen=True, slots=True)
class Tagged:
    """A YAML scalar with an ESPHome tag: `!secret wifi_password`, `!lambda "return x;"`."""

    tag: str
    value: str


FAILED = object()  # the file could not be read as YAML (the problem is already recorded)


def load_yaml(path: Path, problems: Problems) -> object:
    try:
        import yaml
    except ImportError:
        problems.lines.append(f"{path}: cannot check: PyYAML is not installed (pip install pyyaml)")
        return FAILED

    class Loader(yaml.SafeLoader):
        """Safe YAML that keeps ESPHome's tags and refuses duplicate keys."""

    def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
        value = loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else ""
        return Tagged(suffix.lstrip("!"), str(value))

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[object, object]:
        loader.flatten_mapping(node)  # YAML merge keys (<<:)
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                )
            if key in seen:
                problems.add(str(key), f"duplicate key (line {key_node.start_mark.line + 1})")
            seen.add(key)
        return dict(loader.construct_pairs(node, deep=True))

    Loader.add_multi_constructor("!", tagged)
    Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.lines.append(f"{path}: cannot read: {exc.strerror or exc}")
        return FAILED
    except UnicodeDecodeError as exc:
        problems.lines.append(f"{path}: not UTF-8 text: {exc.reason}")
        return FAILED
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        problems.lines.append(f"{path}: not valid YAML: {reason}{line}")
        return FAILED


_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_]+)\}|\$([A-Za-z0-9_]+)")


def substitute(doc: dict[Any, Any], problems: Problems) -> dict[Any, Any]:
    """Apply ESPHome `substitutions` (`${name}` and `$name`) to every string and tag value."""
    raw = doc.get("substitutions")
    names = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    for _ in range(8):  # values may use earlier values: footfall-${door}
        names = {k: _expand(v, names, "", None) for k, v in names.items()}

    def walk(value: object, key: str) -> object:
        if isinstance(value, str):
            return _expand(value, names, key, problems)
        if isinstance(value, Tagged):
            return Tagged(value.tag, _expand(value.value, names, key, problems))
        if isinstance(value, dict):
            return {k: walk(v, _join(key, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{key}[{i}]") for i, v in enumerate(value)]
        return value

    out = {k: walk(v, str(k)) if k != "substitutions" else v for k, v in doc.items()}
    if isinstance(raw, dict):
        out["substitutions"] = names
    return out


def _expand(text: str, names: Mapping[str, str], key: str, problems: Problems | None) -> str:
    """``text`` with known substitutions applied; unknown `${name}` reported if ``problems``."""

    def one(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name in names:
            return names[name]
        if match[1] and problems is not None:
            problems.add(key, f"uses ${{{name}}}, which substitutions does not define")
        return match[0]

    return _SUBSTITUTION.sub(one, text)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
