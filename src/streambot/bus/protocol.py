"""What every bus offers: typed events to subscribers, ticks to latest-wins mailboxes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar, overload

from streambot.bus.mailbox import TickMailbox
from streambot.domain import ProductId, Ticker
from streambot.events import Event

E = TypeVar("E", bound=Event)

EventHandler = Callable[[Event], None]
Unsubscribe = Callable[[], None]


class Bus(Protocol):
    """Fan-out of events (never dropped) and ticks (latest wins).

    Topics are dotted, product last: ``ticks.BTC-USD``, ``orders.filled``.
    """

    def publish(self, event: Event) -> Event:
        """Deliver ``event`` to its subscribers; returns it as delivered (stamped with ``ts``)."""
        ...

    @overload
    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> Unsubscribe: ...

    @overload
    def subscribe(self, kind: str, handler: EventHandler) -> Unsubscribe: ...

    def subscribe(self, kind: type[E] | str, handler: Callable[[E], None] | EventHandler) -> Unsubscribe:
        """Call ``handler`` for every event of type ``kind``, or whose topic equals or starts with
        ``kind + "."`` when ``kind`` is a topic prefix (``""`` hears everything)."""
        ...

    def publish_tick(self, tick: Ticker) -> None: ...

    def publish_latest(self, latest: Mapping[ProductId, Ticker], counts: Mapping[ProductId, int]) -> None:
        """A run of ticks no consumer could see one by one (they came in one socket read), as each
        product's last tick and how many each product had: latest-wins consumers end as if each
        tick had been published, the superseded ones counted as skipped."""
        ...

    def tick_mailbox(self, name: str, *, urgent: bool = False) -> TickMailbox: ...

    def remove_mailbox(self, box: TickMailbox) -> None: ...

    def ticks_urgent(self) -> bool: ...
