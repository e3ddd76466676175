"""Fault injection: the failures a real exchange connection has, on demand.

Shapes are the contract in docs/contracts.md ("Simulator fault injection"). Instant faults
(``drop_connections``, ``skip_sequence``, ``malformed``, ``poison``) act on the sockets open right
now; timed faults (``silence``, ``http_error``, ``latency``, ``slow_response``, ``reject_orders``,
``partial_fills``) hold for their ``seconds`` and a new injection of the same kind replaces the
old one. The server asks this object what to do, frame by frame and request by request; it never
touches a socket.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from streambot.clock import Clock

log = logging.getLogger(__name__)

_MAX_SECONDS = 86_400.0
_MAX_COUNT = 1_000_000


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DropConnections(_Fault):
    fault: Literal["drop_connections"]
    # None: abort the TCP connection (what a network drop looks like: clients see an abnormal
    # close); a close code (e.g. 1000) does a clean close handshake with that code instead.
    code: int | None = Field(default=None, ge=1000, le=4999)


class Silence(_Fault):
    fault: Literal["silence"]
    seconds: float = Field(gt=0, le=_MAX_SECONDS)


class SkipSequence(_Fault):
    fault: Literal["skip_sequence"]
    count: int = Field(ge=1, le=_MAX_COUNT)


class Malformed(_Fault):
    fault: Literal["malformed"]
    count: int = Field(ge=1, le=10_000)


class Poison(_Fault):
    """Frames that once froze or crashed a client: invalid UTF-8, deep nesting, huge and
    out-of-range sequence numbers, NaN, negative and crossed prices. ``count`` rounds of them."""

    fault: Literal["poison"]
    count: int = Field(default=1, ge=1, le=1_000)


class HttpError(_Fault):
    fault: Literal["http_error"]
    status: Literal[429, 500, 502, 503]
    seconds: float = Field(gt=0, le=_MAX_SECONDS)
    html: bool = False


class Latency(_Fault):
    fault: Literal["latency"]
    ms: float = Field(ge=0, le=60_000)
    seconds: float = Field(gt=0, le=_MAX_SECONDS)


class SlowResponse(_Fault):
    """The request is handled at once (an order is created) but its answer is held back: past a
    client's timeout this is an unknown outcome, as a slow exchange gives one."""

    fault: Literal["slow_response"]
    ms: float = Field(ge=0, le=600_000)
    seconds: float = Field(gt=0, le=_MAX_SECONDS)
    writes_only: bool = False  # only POSTs (create and cancel orders): lookups answer at once


class RejectOrders(_Fault):
    """Order creates are refused as Coinbase refuses them (HTTP 200, ``success: false`` with
    ``error``) and nothing is created; every other request is served as usual."""

    fault: Literal["reject_orders"]
    seconds: float = Field(gt=0, le=_MAX_SECONDS)
    error: Literal["INSUFFICIENT_FUND", "INVALID_PRICE_PRECISION", "UNKNOWN_FAILURE_REASON"] = (
        "INSUFFICIENT_FUND"
    )


class PartialFills(_Fault):
    """Orders that would fill at once (market orders, limit orders crossing the book) fill in
    ``pieces`` fills instead, spread over ``spread_ms``: each a fill of its own (trade_id, size,
    price at that moment's touch, commission), the order ``OPEN`` with a growing ``filled_size``
    until the last one makes it ``FILLED``, as a thin Coinbase book fills a large order."""

    fault: Literal["partial_fills"]
    pieces: int = Field(default=3, ge=2, le=100)
    spread_ms: float = Field(default=300.0, ge=0, le=600_000)
    seconds: float = Field(gt=0, le=_MAX_SECONDS)

    @property
    def piece_interval(self) -> float:
        """Seconds between two pieces of one order."""
        return self.spread_ms / 1000 / (self.pieces - 1)


AnyFault = Annotated[
    DropConnections
    | Silence
    | SkipSequence
    | Malformed
    | Poison
    | HttpError
    | Latency
    | SlowResponse
    | RejectOrders
    | PartialFills,
    Field(discriminator="fault"),
]
_ADAPTER: TypeAdapter[AnyFault] = TypeAdapter(AnyFault)
FAULT_NAMES = (
    "drop_connections",
    "silence",
    "skip_sequence",
    "malformed",
    "poison",
    "http_error",
    "latency",
    "slow_response",
    "reject_orders",
    "partial_fills",
)


class FaultError(ValueError):
    """A fault request that does not match the contract; the message names what is wrong."""


def parse_fault(data: Mapping[str, Any]) -> AnyFault:
    """Validate a fault request (JSON body, keyword arguments or a CLI flag)."""
    if not isinstance(data, Mapping):
        raise FaultError("a fault must be a JSON object")
    name = data.get("fault")
    if name not in FAULT_NAMES:
        raise FaultError(f"fault must be one of {', '.join(FAULT_NAMES)}, not {name!r}")
    try:
        return _ADAPTER.validate_python(dict(data))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"][1:]) or "fault"
        raise FaultError(f"{name}: {where}: {error['msg']}") from None


def parse_fault_flag(text: str) -> AnyFault:
    """``--fault`` values: JSON (``{"fault":"silence","seconds":5}``) or ``silence:seconds=5``
    (``http_error:status=429,seconds=30,html=true``)."""
    text = text.strip()
    if text.startswith("{"):
        import json

        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FaultError(f"--fault is not valid JSON: {exc.msg}") from None
        return parse_fault(data)
    name, _, rest = text.partition(":")
    fields: dict[str, Any] = {"fault": name.strip()}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise FaultError(f"--fault {text!r}: expected key=value, got {part!r}")
        fields[key.strip()] = _flag_value(value.strip())
    return parse_fault(fields)


def _flag_value(text: str) -> bool | int | float | str:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


class FaultTarget(Protocol):
    """What the server does for the instant faults; each returns how many sockets it touched."""

    def fault_drop_connections(self, code: int | None) -> int: ...

    def fault_skip_sequence(self, count: int) -> int: ...

    def fault_send_malformed(self, count: int) -> int: ...

    def fault_send_poison(self, count: int) -> int: ...


@dataclass(frozen=True, slots=True)
class _Timed:
    fault: Silence | HttpError | Latency | SlowResponse | RejectOrders | PartialFills
    until: float  # monotonic
    until_epoch: float  # for x-ratelimit-reset and the listing


class Faults:
    """The simulator's active faults. ``inject`` accepts the contract's fields as keywords."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._timed: dict[str, _Timed] = {}
        self._target: FaultTarget | None = None
        # Plain floats the hot paths compare against, so no dict lookup per frame.
        self.silence_until = 0.0
        self.latency_until = 0.0
        self.latency_s = 0.0
        self.http_error_until = 0.0

    def bind(self, target: FaultTarget) -> None:
        self._target = target

    def inject(self, fault: str | Mapping[str, Any], **fields: Any) -> dict[str, Any]:
        """Start a fault: ``inject("silence", seconds=3)``, ``inject(fault="malformed", count=2)``
        or ``inject({"fault": "latency", "ms": 200, "seconds": 5})``. Returns what was done."""
        data = dict(fault) if isinstance(fault, Mapping) else {"fault": fault}
        data.update(fields)
        return self.apply(parse_fault(data))

    def apply(self, fault: AnyFault) -> dict[str, Any]:
        result: dict[str, Any] = fault.model_dump()
        target = self._target
        if isinstance(fault, DropConnections):
            result["connections"] = target.fault_drop_connections(fault.code) if target else 0
        elif isinstance(fault, SkipSequence):
            result["connections"] = target.fault_skip_sequence(fault.count) if target else 0
        elif isinstance(fault, Malformed):
            result["connections"] = target.fault_send_malformed(fault.count) if target else 0
        elif isinstance(fault, Poison):
            result["connections"] = target.fault_send_poison(fault.count) if target else 0
        else:
            now = self._clock.monotonic()
            timed = _Timed(fault, now + fault.seconds, self._clock.time() + fault.seconds)
            self._timed[fault.fault] = timed
            self._refresh()
            result["until"] = timed.until_epoch
        log.warning("💥 Simulator fault injected: %s", result)
        return result

    def active(self) -> list[dict[str, Any]]:
        """Timed faults still running, with the seconds they have left."""
        now = self._clock.monotonic()
        listed = []
        for name, timed in list(self._timed.items()):
            left = timed.until - now
            if left <= 0:
                del self._timed[name]
                continue
            entry = timed.fault.model_dump()
            entry["remaining"] = round(left, 3)
            entry["until"] = timed.until_epoch
            listed.append(entry)
        self._refresh()
        return listed

    def clear(self) -> int:
        count = len(self.active())
        self._timed.clear()
        self._refresh()
        if count:
            log.warning("Simulator faults cleared (%d)", count)
        return count

    # --- what the server asks ------------------------------------------------------------------

    def silenced(self) -> bool:
        return self.silence_until > 0 and self._clock.monotonic() < self.silence_until

    def latency(self) -> float:
        """Seconds to delay a frame or a response by now (0 when no latency fault runs)."""
        if self.latency_until > 0 and self._clock.monotonic() < self.latency_until:
            return self.latency_s
        return 0.0

    def response_delay(self, method: str) -> float:
        """Seconds to hold a handled REST request's answer back now (``slow_response``)."""
        timed = self._timed.get("slow_response")
        if timed is None or not isinstance(timed.fault, SlowResponse):
            return 0.0
        if self._clock.monotonic() >= timed.until or (timed.fault.writes_only and method != "POST"):
            return 0.0
        return timed.fault.ms / 1000

    def order_rejection(self) -> str | None:
        """The error an order create is refused with now (``reject_orders``), or None."""
        timed = self._timed.get("reject_orders")
        if timed is None or not isinstance(timed.fault, RejectOrders):
            return None
        return timed.fault.error if self._clock.monotonic() < timed.until else None

    def partial_fills(self) -> PartialFills | None:
        """How orders placed now execute in pieces (``partial_fills``), or None: at once."""
        timed = self._timed.get("partial_fills")
        if timed is None or not isinstance(timed.fault, PartialFills):
            return None
        return timed.fault if self._clock.monotonic() < timed.until else None

    def http_error(self) -> tuple[HttpError, float] | None:
        """The error REST must answer with now, and when it ends (UNIX seconds)."""
        if self.http_error_until <= 0 or self._clock.monotonic() >= self.http_error_until:
            return None
        timed = self._timed.get("http_error")
        if timed is None or not isinstance(timed.fault, HttpError):
            return None
        return timed.fault, timed.until_epoch

    def _refresh(self) -> None:
        silence = self._timed.get("silence")
        self.silence_until = silence.until if silence else 0.0
        latency = self._timed.get("latency")
        if latency is not None and isinstance(latency.fault, Latency):
            self.latency_until, self.latency_s = latency.until, latency.fault.ms / 1000
        else:
            self.latency_until, self.latency_s = 0.0, 0.0
        error = self._timed.get("http_error")
        self.http_error_until = error.until if error else 0.0
