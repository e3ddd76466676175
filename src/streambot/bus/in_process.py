"""The in-process bus: ticks into bounded latest-wins mailboxes, events to subscribers.

Ticks and events take different paths on purpose. A tick superseded before its consumer got to it
is worthless, so each consumer's mailbox (``TickMailbox``) holds at most one pending tick per
product and counts what it skipped. Events (orders, fills, feed state) must never be lost, so they
are delivered synchronously to every subscriber, whose handler must be quick (typically: put into
its own queue).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

import msgspec

from streambot.bus.mailbox import TickMailbox
from streambot.bus.protocol import EventHandler, Unsubscribe
from streambot.clock import Clock
from streambot.domain import ProductId, Ticker
from streambot.events import Event

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


class InProcessBus:
    """The one bus of a process. Events are stamped with this bus's clock when published."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._mailboxes: list[TickMailbox] = []
        self._urgent: list[TickMailbox] = []
        # Keyed by topic prefix or event type, in the order first subscribed.
        self._subscribers: dict[str | type[Event], list[Callable[[Any], None]]] = {}
        # Who hears an event of a type under a topic, worked out once (an order's five events
        # would otherwise match every subscription each); forgotten whenever subscriptions change.
        self._routes: dict[tuple[type[Event], str], tuple[Callable[[Any], None], ...]] = {}
        # Every tick of the feed crosses this: rebound whenever the mailboxes change, so the
        # usual case (one consumer) is that mailbox's put itself, no loop and no second call.
        # Callers look it up on the bus for every tick (never keep it: it changes).
        self.publish_tick: Callable[[Ticker], None] = _no_mailbox

    # --- ticks ------------------------------------------------------------------------------

    def tick_mailbox(self, name: str, *, urgent: bool = False) -> TickMailbox:
        """A consumer's mailbox. ``urgent``: its consumer decides on trades (see ``ticks_urgent``)."""
        box = TickMailbox(name)
        self._mailboxes.append(box)
        if urgent:
            self._urgent.append(box)
        self._bind_publish_tick()
        return box

    def ticks_urgent(self) -> bool:
        """Whether a tick waits for a consumer that decides on trades.

        Work that can wait a turn of the loop (a dashboard client's write, say) checks this and
        yields first: the waiting consumer's wake-up is already queued, so it runs before it.
        """
        return any(len(box) for box in self._urgent)

    def remove_mailbox(self, box: TickMailbox) -> None:
        if box in self._mailboxes:
            self._mailboxes.remove(box)
        if box in self._urgent:
            self._urgent.remove(box)
        self._bind_publish_tick()

    def publish_latest(self, latest: Mapping[ProductId, Ticker], counts: Mapping[ProductId, int]) -> None:
        """A run of ticks, as each product's last one (``latest``, products in the order they
        first came) and how many each product had (``counts``): each mailbox ends as it would
        have with ``publish_tick`` for each tick of the run, superseded ones counted."""
        for box in self._mailboxes:
            box.put_latest(latest, counts)

    def _bind_publish_tick(self) -> None:
        boxes = tuple(self._mailboxes)
        if not boxes:
            self.publish_tick = _no_mailbox
        elif len(boxes) == 1:
            self.publish_tick = boxes[0].put
        else:

            def publish_tick(tick: Ticker) -> None:
                for box in boxes:
                    box.put(tick)

            self.publish_tick = publish_tick

    # --- events -----------------------------------------------------------------------------

    @overload
    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> Unsubscribe: ...

    @overload
    def subscribe(self, kind: str, handler: EventHandler) -> Unsubscribe: ...

    def subscribe(self, kind: type[E] | str, handler: Callable[[E], None] | EventHandler) -> Unsubscribe:
        """Call ``handler`` for every event of type ``kind`` (subclasses included), or whose topic
        equals or starts with ``kind + "."`` when ``kind`` is a topic prefix.

        ``""`` receives everything. Returns a function that unsubscribes.
        """
        self._subscribers.setdefault(kind, []).append(handler)
        self._routes.clear()

        def unsubscribe() -> None:
            handlers = self._subscribers.get(kind, [])
            if handler in handlers:
                handlers.remove(handler)
                self._routes.clear()

        return unsubscribe

    def publish(self, event: Event) -> Event:
        if not event.ts:
            # Stamped in place, before any handler sees it: the publisher handed over a new
            # event, and a copy per event would cost more than the rest of its delivery.
            _stamp(event, "ts", self._clock.time())
        topic = event.topic
        route = (type(event), topic)
        handlers = self._routes.get(route)
        if handlers is None:
            handlers = self._routes[route] = self._route(event, topic)
        # A tuple made before any handler runs: one that subscribes or unsubscribes meanwhile
        # changes the next event's handlers, not this one's.
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                # One broken subscriber must not stop the others from hearing the event.
                log.exception("❌ event subscriber failed on %s", topic)
        return event

    def _route(self, event: Event, topic: str) -> tuple[Callable[[Any], None], ...]:
        """Every handler of the event, in the order of the subscriptions (first subscribed first)."""
        found: list[Callable[[Any], None]] = []
        for key, handlers in self._subscribers.items():
            if isinstance(key, str):
                if key and topic != key and not topic.startswith(key + "."):
                    continue
            elif not isinstance(event, key):
                continue
            found.extend(handlers)
        return tuple(found)


_stamp = msgspec.structs.force_setattr


def _no_mailbox(tick: Ticker) -> None:
    """``publish_tick`` while no one takes ticks."""
