"""The emulator's *behaviour*: one JSON document that switches on latency and faults.

Everything is optional; ``{}`` (the default) means "behave exactly as before":
resources are final at once and no fault is ever injected.

    {
      "time_scale": 0.01,            # modeled durations x this (0 = latency off)
      "durations": {"rds_create": 900, ...},   # unscaled seconds, override the defaults
      "seed": 0,                     # random.Random(seed) decides the faults
      "fault_rate": 0.0,             # probability of a fault per request, 0..1
      "faults": ["throttle", "server_error", "lost_response"],
      "fault_operations": null,      # e.g. ["CreateVpc", "rds:CreateDBInstance", "s3:*"]
      "max_consecutive_faults": 3,   # then the next call for that operation+target goes through
      "call_latency": 0.0,           # real seconds every AWS request waits before it is served
      "service_latency": {"s3": 0.04}  # per service (SigV4 signing name), instead of call_latency
    }

Sources: ``server.py --behaviour '<json>'`` or ``--behaviour @file.json``, the
environment variable ``MEDTECH_EMULATOR_BEHAVIOUR`` (same two forms), and at
run time ``POST /_medtech/behaviour`` (replaces the whole document).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

ENV_VAR = "MEDTECH_EMULATOR_BEHAVIOUR"

# Unscaled seconds.  Where each number comes from is in tests/emulator/README.md
# ("Latency and faults" -> "Modeled durations").
DEFAULT_DURATIONS: dict[str, float] = {
    "rds_create": 900.0,
    "modify_lag": 0.0,
    "rds_modify": 60.0,
    "rds_delete": 420.0,
    "redis_create": 600.0,
    "redis_modify": 60.0,
    "redis_delete": 300.0,
    "nat_create": 90.0,
    "nat_delete": 60.0,
    "kinesis_create": 30.0,
    "kinesis_update": 30.0,
    "kinesis_delete": 20.0,
    "vpce_create": 90.0,
    "vpce_gateway_create": 5.0,
    "vpce_delete": 60.0,
    "eni_linger": 300.0,
    "iam_propagation": 10.0,
    "kms_propagation": 3.0,
    "eip_release_after_nat": 60.0,
}

FAULT_KINDS: tuple[str, ...] = ("throttle", "server_error", "lost_response")

_FIELDS = ("time_scale", "durations", "seed", "fault_rate", "faults", "fault_operations",
           "max_consecutive_faults", "call_latency", "service_latency")

# A round trip longer than this is a typo (ms for s), not a latency.
MAX_CALL_LATENCY = 10.0


class BehaviourError(ValueError):
    """The behaviour document is invalid (the message says why)."""


def _number(name: str, value: Any, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BehaviourError(f"{name} must be a number, got {json.dumps(value)}")
    value = float(value)
    if math.isnan(value) or math.isinf(value) or value < low or (high is not None and value > high):
        bounds = f"between {low:g} and {high:g}" if high is not None else f">= {low:g}"
        raise BehaviourError(f"{name} must be {bounds}, got {value:g}")
    return value


def _integer(name: str, value: Any, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise BehaviourError(f"{name} must be an integer, got {json.dumps(value)}")
    if low is not None and value < low:
        raise BehaviourError(f"{name} must be >= {low}, got {value}")
    return value


@dataclass(frozen=True)
class Behaviour:
    time_scale: float = 0.0
    durations: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DURATIONS))
    seed: int = 0
    fault_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    fault_operations: tuple[str, ...] | None = None
    max_consecutive_faults: int = 3
    call_latency: float = 0.0
    service_latency: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------ parsing
    @classmethod
    def parse(cls, doc: Any) -> Behaviour:
        """Validate a decoded JSON document; unknown keys are errors (typos must not pass)."""
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise BehaviourError("the behaviour must be a JSON object")
        unknown = sorted(set(doc) - set(_FIELDS))
        if unknown:
            raise BehaviourError(f"unknown behaviour field(s): {', '.join(unknown)}; "
                                 f"known: {', '.join(_FIELDS)}")
        kwargs: dict[str, Any] = {}
        if doc.get("time_scale") is not None:
            kwargs["time_scale"] = _number("time_scale", doc["time_scale"])
        if doc.get("durations") is not None:
            given = doc["durations"]
            if not isinstance(given, dict):
                raise BehaviourError("durations must be an object of name -> seconds")
            bad = sorted(set(given) - set(DEFAULT_DURATIONS))
            if bad:
                raise BehaviourError(f"unknown duration(s): {', '.join(bad)}; "
                                     f"known: {', '.join(DEFAULT_DURATIONS)}")
            durations = dict(DEFAULT_DURATIONS)
            for name, value in given.items():
                durations[name] = _number(f"durations.{name}", value)
            kwargs["durations"] = durations
        if doc.get("seed") is not None:
            kwargs["seed"] = _integer("seed", doc["seed"])
        if doc.get("fault_rate") is not None:
            kwargs["fault_rate"] = _number("fault_rate", doc["fault_rate"], 0.0, 1.0)
        if doc.get("faults") is not None:
            faults = doc["faults"]
            if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
                raise BehaviourError("faults must be a list of fault kinds")
            bad = sorted(set(faults) - set(FAULT_KINDS))
            if bad:
                raise BehaviourError(f"unknown fault kind(s): {', '.join(bad)}; "
                                     f"known: {', '.join(FAULT_KINDS)}")
            kwargs["faults"] = tuple(dict.fromkeys(faults))
        if doc.get("fault_operations") is not None:
            ops = doc["fault_operations"]
            if not isinstance(ops, list) or not all(isinstance(o, str) and o for o in ops):
                raise BehaviourError("fault_operations must be a list of operation names")
            kwargs["fault_operations"] = tuple(ops)
        if doc.get("max_consecutive_faults") is not None:
            kwargs["max_consecutive_faults"] = _integer(
                "max_consecutive_faults", doc["max_consecutive_faults"], 0)
        if doc.get("call_latency") is not None:
            kwargs["call_latency"] = _number("call_latency", doc["call_latency"], 0.0,
                                             MAX_CALL_LATENCY)
        if doc.get("service_latency") is not None:
            given = doc["service_latency"]
            if not isinstance(given, dict) or not all(isinstance(k, str) and k for k in given):
                raise BehaviourError("service_latency must be an object of service -> seconds, "
                                     'e.g. {"s3": 0.04}')
            kwargs["service_latency"] = {
                name: _number(f"service_latency.{name}", value, 0.0, MAX_CALL_LATENCY)
                for name, value in given.items()}
        return cls(**kwargs)

    @classmethod
    def from_text(cls, text: str | None) -> Behaviour:
        """``'<json>'`` or ``'@path/to/file.json'`` (the CLI and env var forms)."""
        if text is None or not text.strip():
            return cls()
        text = text.strip()
        if text.startswith("@"):
            path = text[1:]
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as exc:
                raise BehaviourError(f"cannot read behaviour file {path}: {exc}") from exc
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise BehaviourError(f"behaviour is not valid JSON: {exc}") from exc
        return cls.parse(doc)

    # ------------------------------------------------------------- queries
    def to_json(self) -> dict[str, Any]:
        return {
            "time_scale": self.time_scale,
            "durations": dict(self.durations),
            "seed": self.seed,
            "fault_rate": self.fault_rate,
            "faults": list(self.faults),
            "fault_operations": None if self.fault_operations is None else list(self.fault_operations),
            "max_consecutive_faults": self.max_consecutive_faults,
            "call_latency": self.call_latency,
            "service_latency": dict(self.service_latency),
        }

    @property
    def latency(self) -> bool:
        """Lifecycle modeling (intermediate states, lingering dependencies, IAM propagation)."""
        return self.time_scale > 0

    @property
    def faulty(self) -> bool:
        return self.fault_rate > 0 and bool(self.faults)

    @property
    def is_default(self) -> bool:
        """Nothing switched on: the emulator behaves exactly as without this layer."""
        return not self.latency and not self.faulty

    def latency_of(self, service: str | None) -> float:
        """Real seconds a request to ``service`` waits before it is served."""
        return self.service_latency.get(service or "", self.call_latency)

    def seconds(self, name: str) -> float:
        """The scaled duration of ``name`` in real seconds."""
        return self.durations[name] * self.time_scale


def resolve(cli_value: str | None, environ) -> Behaviour:
    """The CLI value if given, else the environment variable, else the default."""
    if cli_value is not None:
        return Behaviour.from_text(cli_value)
    return Behaviour.from_text(environ.get(ENV_VAR))
