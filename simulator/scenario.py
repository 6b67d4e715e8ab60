"""Scenario files: the fleet's size and traffic, model rollouts and scheduled degradations.

A scenario is a YAML file (see ``docs/simulator.md`` for the format); this module
reads it into frozen dataclasses and says exactly which key is wrong when it is
not valid. Times are relative to the run's *anchor*, the moment the backfill
ends and live streaming begins (``-6h`` is six hours of history before it,
``+2m`` two minutes into the live stream), or absolute ISO 8601 timestamps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from simulator import catalog

NS = 1_000_000_000
_UNITS = {"ms": NS // 1000, "s": NS, "m": 60 * NS, "h": 3600 * NS, "d": 86400 * NS}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")

#: Dimensions a degradation's ``where`` may name, as in the read API's ``by``.
ATTEMPT_DIMENSIONS = (
    "tier",
    "task",
    "model",
    "model_version",
    "device_model",
    "region",
    "app_version",
    "node",
)
#: Dimensions known before a request is routed, for effects on requests and devices.
DEVICE_DIMENSIONS = ("task", "device_model", "region", "app_version")
ATTEMPT_EFFECTS = ("latency_factor", "error_rate", "confidence_shift", "quality_shift")
REQUEST_EFFECTS = ("privacy_misroute", "offline_share")
#: What a request- or device-level effect acts on, and the dimensions known there.
_ACTS_ON: dict[str, tuple[str, tuple[str, ...]]] = {
    "privacy_misroute": ("requests before a tier is chosen", DEVICE_DIMENSIONS),
    "offline_share": ("whole devices", ("device_model", "region", "app_version")),
}


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the key."""


def parse_duration(text: str | int | float) -> int:
    """A duration such as ``90s``, ``15m``, ``1h30m`` or ``1d``, in nanoseconds.

    A bare number is seconds.
    """
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {text!r}")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"not a duration: {text!r} (negative)")
        return int(text * NS)
    value = text.strip()
    if not value or _DURATION.sub("", value):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h30m, 1d)")
    return sum(int(float(number) * _UNITS[unit]) for number, unit in _DURATION.findall(value))


@dataclass(frozen=True)
class Moment:
    """A point in time: an offset from the run's anchor, or an absolute time."""

    ns: int
    relative: bool = True

    def resolve(self, anchor_ns: int) -> int:
        """Unix nanoseconds, given the anchor."""
        return anchor_ns + self.ns if self.relative else self.ns


def parse_moment(value: Any) -> Moment:
    """``now``, ``-6h``, ``+2m``, ``0`` or an ISO 8601 time (with a time zone)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{value.isoformat()} has no time zone (add Z or +00:00)")
        return Moment(int(value.timestamp() * NS), relative=False)
    if isinstance(value, date):
        raise ValueError(f"{value.isoformat()} is a date; give a time too")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Moment(int(value * NS))
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    text = value.strip()
    if text == "now":
        return Moment(0)
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        return Moment(sign * parse_duration(text[1:]))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {value!r} (use now, -6h, +2m or ISO 8601)") from None
    return parse_moment(moment)


@dataclass(frozen=True)
class Rollout:
    """A model version reaching a growing share of the senders that run the model."""

    model: str
    version: str
    start: Moment
    #: How long it takes to reach ``share``; 0 means at once.
    duration_ns: int
    #: The share of senders it reaches in the end (devices stuck on old versions never update).
    share: float


@dataclass(frozen=True)
class Degradation:
    """Something that goes wrong for the attempts, requests or devices that match ``where``."""

    name: str
    start: Moment
    end: Moment | None
    #: The effect grows linearly from nothing to full strength over this long.
    ramp_ns: int
    #: Dimension -> the values that match (an absent dimension matches everything).
    where: Mapping[str, frozenset[str]]
    latency_factor: float = 1.0
    error_rate: float = 0.0
    error_type: str | None = None
    confidence_shift: float = 0.0
    quality_shift: float = 0.0
    privacy_misroute: float = 0.0
    misroute_to: str = "cloud"
    offline_share: float = 0.0


@dataclass(frozen=True)
class Offline:
    """How often devices lose their network on their own, outside any degradation."""

    outages_per_day: float = 1.5
    median_duration_ns: int = 20 * 60 * NS


@dataclass(frozen=True)
class Routing:
    """How the router judges local answers, and how their quality is known.

    ``confidence_floor`` overrides the router's threshold per local tier. With
    ``calibrated``, a local answer is right with probability equal to its
    confidence and a cloud answer with probability ``cloud_quality``; every
    local answer that fell back for low confidence is compared with the cloud's
    (its quality is recorded), and ``label_share`` of the other served answers
    get their quality recorded too (1 right, 0 wrong).
    """

    confidence_floor: tuple[tuple[str, float], ...] = ()
    calibrated: bool = False
    cloud_quality: float = 0.95
    label_share: float = 0.0

    def floor(self, tier: str, default: float | None) -> float | None:
        """The threshold of ``tier``: the scenario's, else ``default``."""
        return dict(self.confidence_floor).get(tier, default)


@dataclass(frozen=True)
class Scenario:
    """Everything a simulation run is told by its scenario file."""

    name: str = "default"
    description: str = ""
    fleet: str = "demo"
    environment: str = "simulation"
    devices: int = 150
    #: Requests per second across the fleet, on average over a day.
    rate: float = 2.0
    seed: int = 1
    #: Share of served device and edge requests that the cloud also runs, to measure quality.
    shadow_share: float = 0.05
    #: Amplitude of the daily traffic cycle: 0 is flat, 0.3 swings traffic by +-30 %.
    diurnal: float = 0.3
    #: Share of devices that never update their models.
    stuck_share: float = 0.04
    offline: Offline = field(default_factory=Offline)
    routing: Routing = field(default_factory=Routing)
    rollouts: tuple[Rollout, ...] = ()
    degradations: tuple[Degradation, ...] = ()


_TOP = {
    "name",
    "description",
    "fleet",
    "environment",
    "devices",
    "rate",
    "seed",
    "shadow_share",
    "diurnal",
    "stuck_share",
    "offline",
    "routing",
    "rollouts",
    "degradations",
}
_ROLLOUT = {"model", "version", "start", "duration", "share"}
_DEGRADATION = {
    "name",
    "start",
    "end",
    "ramp",
    "where",
    *ATTEMPT_EFFECTS,
    "error_type",
    *REQUEST_EFFECTS,
    "misroute_to",
}
_KNOWN_VALUES: dict[str, Any] = {
    "tier": ("device", "edge", "cloud"),
    "task": catalog.TASKS_BY_NAME,
    "model": catalog.MODEL_NAMES,
    "device_model": catalog.HARDWARE_BY_NAME,
    "region": catalog.REGIONS_BY_NAME,
    "app_version": [version for version, _ in catalog.APP_VERSIONS],
    "node": catalog.NODES_BY_NAME,
}


class _Reader:
    """Reads one mapping of the file, naming the key path in every error."""

    def __init__(self, data: Any, path: str, allowed: set[str]) -> None:
        if not isinstance(data, Mapping):
            raise ScenarioError(f"{path or 'the scenario'} must be a mapping")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise ScenarioError(
                f"{_join(path, str(unknown[0]))}: unknown key (known: {', '.join(sorted(allowed))})"
            )
        self.data = data
        self.path = path

    def key(self, name: str) -> str:
        return _join(self.path, name)

    def get(self, name: str, default: Any, convert: Any) -> Any:
        if name not in self.data or self.data[name] is None:
            return default
        try:
            return convert(self.data[name])
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"{self.key(name)}: {exc}") from None

    def require(self, name: str, convert: Any) -> Any:
        if self.data.get(name) is None:
            raise ScenarioError(f"{self.key(name)}: required")
        return self.get(name, None, convert)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _number(low: float, high: float | None = None) -> Any:
    def convert(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number; got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low:g} and {high:g}" if high is not None else f"{low:g} or more"
            raise ValueError(f"must be {bound}; got {value!r}")
        return float(value)

    return convert


def _whole(low: int) -> Any:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"must be a whole number, {low} or more; got {value!r}")
        return value

    return convert


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"must be a string; got {value!r}")
    return str(value)


def _list(data: Any, path: str) -> list[Any]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise ScenarioError(f"{path}: must be a list")
    return data


def _where(data: Any, path: str, dimensions: tuple[str, ...]) -> dict[str, frozenset[str]]:
    reader = _Reader(data or {}, path, set(dimensions))
    where: dict[str, frozenset[str]] = {}
    for key, raw in reader.data.items():
        values = raw if isinstance(raw, list) else [raw]
        texts = frozenset(_text(v) for v in values)
        known = _KNOWN_VALUES.get(key)
        for text in sorted(texts):
            if known is not None and text not in known:
                raise ScenarioError(
                    f"{reader.key(key)}: unknown value {text!r} (known: {', '.join(sorted(known))})"
                )
        where[key] = texts
    return where


def _rollout(data: Any, path: str) -> Rollout:
    reader = _Reader(data, path, _ROLLOUT)
    model = reader.require("model", _text)
    if model not in catalog.MODEL_NAMES:
        raise ScenarioError(
            f"{reader.key('model')}: unknown model {model!r} "
            f"(known: {', '.join(sorted(catalog.MODEL_NAMES))})"
        )
    return Rollout(
        model=model,
        version=reader.require("version", _text),
        start=reader.require("start", parse_moment),
        duration_ns=reader.get("duration", 0, parse_duration),
        share=reader.get("share", 1.0, _number(0.0, 1.0)),
    )


def _degradation(data: Any, path: str) -> Degradation:
    reader = _Reader(data, path, _DEGRADATION)
    effects = {
        "latency_factor": reader.get("latency_factor", 1.0, _number(0.0)),
        "error_rate": reader.get("error_rate", 0.0, _number(0.0, 1.0)),
        "confidence_shift": reader.get("confidence_shift", 0.0, _number(-1.0, 1.0)),
        "quality_shift": reader.get("quality_shift", 0.0, _number(-1.0, 1.0)),
        "privacy_misroute": reader.get("privacy_misroute", 0.0, _number(0.0, 1.0)),
        "offline_share": reader.get("offline_share", 0.0, _number(0.0, 1.0)),
    }
    neutral = {"latency_factor": 1.0}
    active = [name for name, value in effects.items() if value != neutral.get(name, 0.0)]
    if not active:
        raise ScenarioError(
            f"{path}: no effect (give one of {', '.join(ATTEMPT_EFFECTS + REQUEST_EFFECTS)})"
        )
    request_level = [name for name in active if name in REQUEST_EFFECTS]
    if request_level and len(active) > 1:
        raise ScenarioError(
            f"{path}: {request_level[0]} acts on {_ACTS_ON[request_level[0]][0]}; "
            "give it in a degradation of its own"
        )
    dimensions = _ACTS_ON[request_level[0]][1] if request_level else ATTEMPT_DIMENSIONS
    raw_where = reader.data.get("where") or {}
    if request_level and isinstance(raw_where, Mapping):
        for key in raw_where:
            if key not in dimensions and key in ATTEMPT_DIMENSIONS:
                raise ScenarioError(
                    f"{reader.key('where')}.{key}: {request_level[0]} acts on "
                    f"{_ACTS_ON[request_level[0]][0]}; where may name only {', '.join(dimensions)}"
                )
    start = reader.require("start", parse_moment)
    end = reader.get("end", None, parse_moment)
    if end is not None and end.relative == start.relative and end.ns <= start.ns:
        raise ScenarioError(f"{reader.key('end')}: must be after start")
    misroute_to = reader.get("misroute_to", "cloud", _text)
    if misroute_to not in ("edge", "cloud"):
        raise ScenarioError(f"{reader.key('misroute_to')}: must be edge or cloud")
    return Degradation(
        name=reader.get("name", path, _text),
        start=start,
        end=end,
        ramp_ns=reader.get("ramp", 0, parse_duration),
        where=_where(raw_where, reader.key("where"), dimensions),
        error_type=reader.get("error_type", None, _text),
        misroute_to=misroute_to,
        **effects,
    )


def parse_scenario(data: Any) -> Scenario:
    """A :class:`Scenario` from the parsed YAML, or :class:`ScenarioError` naming the bad key."""
    reader = _Reader(data if data is not None else {}, "", _TOP)
    offline = Offline()
    if reader.data.get("offline") is not None:
        off = _Reader(reader.data["offline"], "offline", {"outages_per_day", "median_duration"})
        offline = Offline(
            outages_per_day=off.get("outages_per_day", offline.outages_per_day, _number(0.0)),
            median_duration_ns=off.get(
                "median_duration", offline.median_duration_ns, parse_duration
            ),
        )
    defaults = Scenario()
    return Scenario(
        routing=_routing(reader.data.get("routing")),
        name=reader.get("name", defaults.name, _text),
        description=reader.get("description", "", _text),
        fleet=reader.get("fleet", defaults.fleet, _text),
        environment=reader.get("environment", defaults.environment, _text),
        devices=reader.get("devices", defaults.devices, _whole(1)),
        rate=reader.get("rate", defaults.rate, _number(0.0)),
        seed=reader.get("seed", defaults.seed, _whole(0)),
        shadow_share=reader.get("shadow_share", defaults.shadow_share, _number(0.0, 1.0)),
        diurnal=reader.get("diurnal", defaults.diurnal, _number(0.0, 0.9)),
        stuck_share=reader.get("stuck_share", defaults.stuck_share, _number(0.0, 1.0)),
        offline=offline,
        rollouts=tuple(
            _rollout(item, f"rollouts[{i}]")
            for i, item in enumerate(_list(reader.data.get("rollouts"), "rollouts"))
        ),
        degradations=tuple(
            _degradation(item, f"degradations[{i}]")
            for i, item in enumerate(_list(reader.data.get("degradations"), "degradations"))
        ),
    )


def _routing(data: Any) -> Routing:
    if data is None:
        return Routing()
    reader = _Reader(
        data, "routing", {"confidence_floor", "calibrated", "cloud_quality", "label_share"}
    )
    floors = reader.data.get("confidence_floor") or {}
    floor_reader = _Reader(floors, "routing.confidence_floor", {"device", "edge"})
    defaults = Routing()
    calibrated = reader.data.get("calibrated", False)
    if not isinstance(calibrated, bool):
        raise ScenarioError(f"routing.calibrated: must be true or false; got {calibrated!r}")
    return Routing(
        confidence_floor=tuple(
            (tier, floor_reader.require(tier, _number(0.0, 1.0))) for tier in sorted(floors)
        ),
        calibrated=calibrated,
        cloud_quality=reader.get("cloud_quality", defaults.cloud_quality, _number(0.0, 1.0)),
        label_share=reader.get("label_share", defaults.label_share, _number(0.0, 1.0)),
    )


def builtin_scenarios() -> list[str]:
    """The names of the scenarios that ship with tierwatch."""
    folder = resources.files("simulator") / "scenarios"
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str | Path | None) -> Scenario:
    """A scenario from a file, or a built-in one by name (``demo``); ``None`` is the default."""
    if name_or_path is None:
        return Scenario()
    path = Path(name_or_path)
    if path.exists():
        text = path.read_text()
        label = str(path)
    else:
        builtin = resources.files("simulator") / "scenarios" / f"{name_or_path}.yaml"
        if not builtin.is_file():
            raise ScenarioError(
                f"no scenario file {name_or_path} and no built-in scenario of that name "
                f"(built-in: {', '.join(builtin_scenarios())})"
            )
        text = builtin.read_text()
        label = str(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{label} is not valid YAML: {exc}") from None
    try:
        return parse_scenario(data)
    except ScenarioError as exc:
        raise ScenarioError(f"{label}: {exc}") from None


def utc(ns: int) -> str:
    """Unix nanoseconds as an ISO 8601 UTC time, to the second."""
    return datetime.fromtimestamp(ns // NS, tz=UTC).isoformat().replace("+00:00", "Z")
