"""`[playbook]` (the suggestion rules, issue 15) and `[alerts]` (how long an arrival card stays
on a tablet), read like every other table: each problem names its key.

The same reader checks the playbook the central service publishes (a retained MQTT message,
docs/suggestions.md), so the file and the topic accept exactly the same document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from agent.config.reader import Problems, Table, describe_kind
from agent.core.playbook import (
    CAMPAIGN_PATTERN,
    KINDS,
    MAX_RULES,
    MAX_TEXT_CHARS,
    RULE_ID_PATTERN,
    Playbook,
    PlaybookSource,
    Rule,
    default_playbook,
)

LANGUAGES = ("fr", "en")
_WORDING_PATTERN = r"[a-z0-9_]{1,48}"
_NAME_PATTERN = r"[A-Za-z0-9 ._:-]{1,64}"
_ENVELOPE_VERSION = "version"


@dataclass(frozen=True, slots=True)
class PlaybookConfig:
    playbook: Playbook = field(default_factory=default_playbook)
    # The chain's holdout key (the same file in every store keeps a customer in the same
    # group everywhere); without it each device uses a key of its own.
    holdout_key_file: Path | None = field(default=None, repr=False)
    holdout_key: bytes | None = field(default=None, repr=False)  # the file's bytes, stripped
    # Whether a retained playbook from the central service may replace this one.
    central_override: bool = True


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    """`[alerts]`: arrival cards on the staff tablets."""

    display_s: int = 600  # a card moves to "earlier arrivals" after this long on a tablet
    earlier_max: int = 20  # how many earlier arrivals the tablet lists


def parse_playbook_config(root: Table, base: Path) -> PlaybookConfig:
    t = root.table("playbook")
    if t is None:
        return PlaybookConfig()
    key_file = t.file_path("holdout_key_file", base, must_exist=True, secret=True)
    config = PlaybookConfig(
        playbook=read_playbook(t, source="config"),
        holdout_key_file=key_file,
        holdout_key=_holdout_key(t, key_file),
        central_override=t.boolean("central_override", default=True),
    )
    t.finish()
    return config


MIN_KEY_BYTES = 16


def _holdout_key(t: Table, path: Path | None) -> bytes | None:
    """The key's bytes; a short one would make the groups guessable, so it stops the start."""
    if path is None or not t.ok("holdout_key_file"):
        return None
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        t.bad("holdout_key_file", f"cannot read: {exc.strerror or exc}")
        return None
    if len(key) < MIN_KEY_BYTES:
        t.bad("holdout_key_file", f"must hold at least {MIN_KEY_BYTES} bytes, got {len(key)}")
        return None
    return key


def parse_alerts(root: Table) -> AlertsConfig:
    t = root.table("alerts")
    if t is None:
        return AlertsConfig()
    config = AlertsConfig(
        display_s=t.integer("display_s", 600, minimum=10, maximum=12 * 3600),
        earlier_max=t.integer("earlier_max", 20, minimum=0, maximum=200),
    )
    t.finish()
    return config


def read_playbook(t: Table, *, source: PlaybookSource, version: int = 0) -> Playbook:
    """The playbook in table ``t`` (its `rules` array, `enabled`, `max_shown`); the keys it
    does not know are left for the caller's `finish`. No `rules`: the default rules."""
    enabled = t.boolean("enabled", default=True)
    max_shown = t.integer("max_shown", 8, minimum=1, maximum=50)
    rules = default_playbook().rules
    if t.has("rules"):
        raw = t.raw("rules")
        if not isinstance(raw, list) or len(raw) > MAX_RULES:
            t.bad(
                "rules", f"must be an array of at most {MAX_RULES} tables, got {describe_kind(raw)}"
            )
        else:
            rules = _rules(t, raw)
    return Playbook(
        rules=rules, enabled=enabled, max_shown=max_shown, source=source, version=version
    )


def _rules(t: Table, raw: list[object]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for n, entry in enumerate(raw):
        r = Table(t.problems, f"{t.key('rules')}[{n}]", entry)
        kind = r.choice("kind", KINDS)
        rule_id = r.string("id", kind, pattern=RULE_ID_PATTERN)
        if any(rule.id == rule_id for rule in rules):
            r.bad("id", f"{rule_id!r} is used by an earlier rule")
        campaign = r.optional_string("campaign")
        if (
            campaign is not None
            and r.ok("campaign")
            and not re.fullmatch(CAMPAIGN_PATTERN, campaign)
        ):
            r.bad("campaign", f"must match {CAMPAIGN_PATTERN}, got {campaign!r}")
        holdout = r.number("holdout_percent", 0.0, minimum=0.0, maximum=100.0)
        queue = r.optional_string("queue")
        role = r.optional_string("role")
        for name, value in (("queue", queue), ("role", role)):
            if value is not None and r.ok(name) and not re.fullmatch(_NAME_PATTERN, value):
                r.bad(name, f"must match {_NAME_PATTERN}, got {value!r}")
        rules.append(
            Rule(
                id=rule_id,
                kind=kind,  # type: ignore[arg-type]
                priority=r.integer("priority", 100, minimum=0, maximum=10_000),
                enabled=r.boolean("enabled", default=True),
                campaign=campaign,
                holdout_percent=holdout,
                wording=r.string("wording", "", pattern=f"|{_WORDING_PATTERN}"),
                text=_texts(r),
                queue=queue,
                role=role,
                within_days=r.integer("within_days", 7, minimum=0, maximum=60),
                tiers=_names(r, "tiers"),
                segments=_names(r, "segments"),
                min_visits_30d=r.integer("min_visits_30d", 3, minimum=2, maximum=100),
                absent_days=r.integer("absent_days", 90, minimum=7, maximum=730),
                max_offers=r.integer("max_offers", 3, minimum=1, maximum=20),
                welcome_offer_prefix=r.string(
                    "welcome_offer_prefix", "welcome", pattern=r"[A-Za-z0-9_.:-]{0,64}"
                ),
                new_within_days=r.integer("new_within_days", 1, minimum=0, maximum=365),
                max_items=r.integer("max_items", 6, minimum=1, maximum=50),
            )
        )
        r.finish()
    return tuple(rules)


def _texts(r: Table) -> tuple[tuple[str, str], ...]:
    """`text = { fr = "...", en = "..." }`: the sentence per tablet language."""
    t = r.table("text")
    if t is None:
        return ()
    texts = []
    for language in LANGUAGES:
        value = t.optional_string(language)
        if value is None:
            continue
        if not value.strip() or len(value) > MAX_TEXT_CHARS:
            t.bad(language, f"must be 1 to {MAX_TEXT_CHARS} characters")
            continue
        texts.append((language, value.strip()))
    t.finish()
    return tuple(texts)


def _names(r: Table, key: str) -> tuple[str, ...]:
    if not r.has(key):
        return ()
    raw = r.raw(key)
    if not isinstance(raw, list) or not all(
        isinstance(x, str) and re.fullmatch(_NAME_PATTERN, x) for x in raw
    ):
        r.bad(key, f"must be an array of names matching {_NAME_PATTERN}, got {describe_kind(raw)}")
        return ()
    return tuple(str(x) for x in raw)


def playbook_problems(document: dict[str, object], version: int) -> tuple[Playbook, list[str]]:
    """Check a central playbook document exactly as the config file's section is checked."""
    problems = Problems("central playbook")
    t = Table(problems, "", document)
    playbook = read_playbook(t, source="central", version=version)
    t.raw(_ENVELOPE_VERSION)  # the message's own key (not a config key), read by the caller
    t.finish()
    return playbook, problems.lines
