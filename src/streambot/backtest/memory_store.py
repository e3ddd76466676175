"""Every record a backtest writes, kept in memory: bots, orders, fills, trades, holds, risk state.

It satisfies the same narrow protocols as the SQL store (``trading.protocols``, ``bots.BotStore``,
``risk.engine.RiskStateStore``), so the order path, settlement, risk engine and bot manager run
unchanged. Every method completes without suspending: a replay on a ManualClock relies on the
engine's coroutines waiting only on the clock, never on a thread or a socket, which is what makes
a run deterministic. The run's orders, fills and trades are read back from here for the report.

A long replay makes millions of orders, and nothing reads a finished one again: ``archive_final``
moves each final order, with its fills and trade, out of memory into a spill file (msgpack
batches in a temporary file), so a run's memory stays flat however long it is. Every read still
sees them: the rare ones that ask for an archived record (a rebuild's ``fills_for_bot``, a
settlement's second look at an order) scan the spill, and an archived order that is written
again is brought back into memory first. ``all_orders``, ``all_fills`` and ``all_trades`` read
everything back in the order it was first stored.
"""

from __future__ import annotations

import struct
import tempfile
import weakref
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec

from streambot.clock import Clock
from streambot.domain import (
    BotId,
    BotRecord,
    BotState,
    Fill,
    OrderRecord,
    ProductHold,
    Trade,
    evolve,
    slot_init,
)
from streambot.risk.state import EquitySnapshot, ScopeState

T = TypeVar("T")
_LENGTH = struct.Struct("<I")  # a batch's size in the spill file, before it


@slot_init
@dataclass(frozen=True, slots=True)
class StoredFill:
    """A fill as stored: with its order and bot, and its place in the order fills were stored."""

    index: int
    fill: Fill
    bot_id: int
    client_order_id: str


@dataclass(frozen=True, slots=True)
class ArchivedOrder:
    """A final order moved out of memory, with everything stored about it."""

    number: int  # its archiving's, unique: a revived order's older copies are skipped by it
    index: int  # its place in the order orders were stored
    order: OrderRecord
    submitted: int | None  # its place in the order orders were submitted (None: never submitted)
    fills: tuple[StoredFill, ...]
    trade: Trade | None


class Spill(Generic[T]):
    """Batches of ``T`` appended to a temporary file, read back in the order they were written.

    Each batch is one msgpack message (msgspec) behind its length: records are encoded field by
    field in C (their Decimals as their exact strings, their times as msgpack timestamps) and
    decoded back into the same types, equal to what was written.
    """

    def __init__(self, kind: Any) -> None:
        self._file: Any = None
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(list[kind]).decode

    def write(self, batch: list[T]) -> None:
        if self._file is None:
            # Open as long as its owner: closed with it (or by ``close``); the file has no name,
            # so the system removes it once closed, or with the process.
            self._file = tempfile.TemporaryFile(prefix="streambot-backtest-")  # noqa: SIM115
            weakref.finalize(self, self._file.close)
        blob = self._encode(batch)
        self._file.write(_LENGTH.pack(len(blob)))
        self._file.write(blob)

    def read(self) -> Iterator[T]:
        """Every item written so far; writing may go on afterwards (it appends at the end)."""
        if self._file is None:
            return
        file = self._file
        file.flush()
        end = file.tell()
        position = 0
        while position < end:
            file.seek(position)
            (size,) = _LENGTH.unpack(file.read(_LENGTH.size))
            batch = self._decode(file.read(size))
            position = file.tell()
            file.seek(0, 2)
            yield from batch

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class MemoryStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._bots: dict[BotId, BotRecord] = {}
        self._order_seq: dict[BotId, int] = {}
        # The records in memory (the archived ones are in ``_archive``).
        self.orders: dict[str, OrderRecord] = {}  # by client_order_id, in the order they were stored
        self._order_index: dict[str, int] = {}  # client_order_id → its place among all orders stored
        self._unresolved: dict[str, OrderRecord] = {}
        self._final: dict[str, None] = {}  # orders in memory that are final: the next to archive
        self._submitted: dict[str, int] = {}  # client_order_id → its place in submission order
        self._submitted_at: dict[str, tuple[int, datetime]] = {}  # … and (bot_id, submitted_at)
        self.fills: dict[str, StoredFill] = {}  # by trade_id
        self._fills_of: dict[str, list[str]] = {}  # client_order_id → its fills' trade_ids
        self.trades: dict[str, Trade] = {}  # by client_order_id
        self._counts = [0, 0, 0, 0]  # orders, fills, trades stored, orders submitted: the next places
        self._archive: Spill[ArchivedOrder] = Spill(ArchivedOrder)
        self._archived = 0  # orders archived (archivings, with revived orders archived again)
        self._revived: set[int] = set()  # the archivings whose order was brought back into memory
        self._holds: dict[str, ProductHold] = {}
        self._risk: dict[str, ScopeState] = {}
        self.snapshots: list[EquitySnapshot] = []

    # --- bots --------------------------------------------------------------------------------

    async def create_bot(
        self,
        name: str,
        strategy: str,
        product_id: str,
        params: dict[str, Any],
        budget: Decimal,
        state: BotState = BotState.STOPPED,
        streaming: bool = True,
    ) -> BotRecord:
        now = self._clock.now()
        bot_id = BotId(len(self._order_seq) + 1)
        record = BotRecord(
            id=bot_id,
            name=name,
            strategy=strategy,
            product_id=product_id,
            params=params,
            budget=budget,
            state=BotState(state),
            error_reason="",
            streaming=streaming,
            created_at=now,
            updated_at=now,
        )
        self._bots[bot_id] = record
        self._order_seq[bot_id] = 0
        return record

    async def list_bots(self) -> list[BotRecord]:
        return list(self._bots.values())

    async def update_bot(self, bot_id: int, **changes: Any) -> BotRecord | None:
        record = self._bots.get(BotId(bot_id))
        if record is None:
            return None
        if "state" in changes:
            changes["state"] = BotState(changes["state"])
        record = evolve(record, **changes, updated_at=self._clock.now())
        self._bots[record.id] = record
        return record

    async def delete_bot(self, bot_id: int) -> bool:
        return self._bots.pop(BotId(bot_id), None) is not None

    async def fills_for_bot(self, bot_id: int) -> list[Fill]:
        return [stored.fill for stored in self.all_fills() if stored.bot_id == bot_id]

    # --- orders ------------------------------------------------------------------------------

    async def insert_order_with_seq(self, bot_id: int, make: Callable[[int], OrderRecord]) -> OrderRecord:
        key = BotId(bot_id)
        if key not in self._order_seq:
            raise LookupError(f"no bot with id {bot_id}")
        seq = self._order_seq[key] = self._order_seq[key] + 1
        order = make(seq)
        client_order_id = order.client_order_id
        # The id carries the bot's sequence, which only grows: an archived order's id is never
        # made again, so the orders in memory are the ones to check.
        if client_order_id in self.orders:
            raise ValueError(f"an order with client_order_id {client_order_id!r} is already stored")
        self._order_index[client_order_id] = self._counts[0]
        self._counts[0] += 1
        self._keep(order)
        return order

    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord:
        found = self.orders.get(client_order_id)
        if found is None and self._revive(client_order_id):
            found = self.orders[client_order_id]
        if found is None:
            raise LookupError(f"no order with client_order_id {client_order_id!r} is stored")
        if not changes:
            return found
        filled = changes.get("filled_size")
        if filled is not None and filled < found.filled_size:
            return found  # from an older read of the exchange: the SQL store keeps the order too
        order = evolve(found, **changes)
        if order.submitted_at is not None and found.submitted_at is None:
            self._submitted[client_order_id] = self._counts[3]
            self._counts[3] += 1
            self._submitted_at[client_order_id] = (order.bot_id, order.submitted_at)
        self._keep(order)
        return order

    def _keep(self, order: OrderRecord) -> None:
        key = order.client_order_id
        self.orders[key] = order
        if order.status.is_final:
            self._unresolved.pop(key, None)
            self._final[key] = None
        else:
            self._unresolved[key] = order
            self._final.pop(key, None)

    async def get_orders(self, client_order_ids: Collection[str]) -> dict[str, OrderRecord]:
        found = {key: self.orders[key] for key in client_order_ids if key in self.orders}
        if len(found) < len(client_order_ids) and self._archived:
            missing = set(client_order_ids) - found.keys()
            for archived in self._archived_orders():
                if archived.order.client_order_id in missing:
                    found[archived.order.client_order_id] = archived.order
            # In the order asked, as without an archive.
            found = {key: found[key] for key in client_order_ids if key in found}
        return found

    async def unresolved_orders(self) -> list[OrderRecord]:
        return sorted(self._unresolved.values(), key=lambda o: (o.created_at, o.client_order_id))

    async def final_orders_without_their_trade(self) -> list[OrderRecord]:
        trades = {trade.client_order_id: trade for trade in self.all_trades()}
        return sorted(
            (
                order
                for order in self.all_orders()
                if order.status.is_final
                and order.filled_size > 0
                and (
                    (trade := trades.get(order.client_order_id)) is None
                    or trade.base_size != order.filled_size
                )
            ),
            key=lambda o: (o.created_at, o.client_order_id),
        )

    async def submitted_since(self, since: datetime) -> list[tuple[int, datetime]]:
        rows = [(place, self._submitted_at[key]) for key, place in self._submitted.items()]
        for archived in self._archived_orders():
            order = archived.order
            if archived.submitted is not None and order.submitted_at is not None:
                rows.append((archived.submitted, (order.bot_id, order.submitted_at)))
        rows.sort(key=lambda row: row[0])
        return [(bot, at) for _, (bot, at) in rows if at >= since]

    # --- fills and trades ----------------------------------------------------------------------

    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool:
        if fill.trade_id in self.fills:
            return False
        if client_order_id not in self.orders:
            # An archived order's fills were archived with it: brought back, they are known again.
            if self._revive(client_order_id):
                if fill.trade_id in self.fills:
                    return False
            elif self._archived and fill.trade_id in self._archived_trade_ids():
                return False
            else:
                raise LookupError(f"no order with client_order_id {client_order_id!r} is stored")
        self.fills[fill.trade_id] = StoredFill(self._counts[1], fill, bot_id, client_order_id)
        self._counts[1] += 1
        self._fills_of.setdefault(client_order_id, []).append(fill.trade_id)
        return True

    async def upsert_trade(self, trade: Trade) -> Trade:
        key = trade.client_order_id
        known = self.trades.get(key)
        if known is None and key not in self.orders and self._revive(key):
            known = self.trades.get(key)
        if known is None:
            self._counts[2] += 1
        elif trade.base_size < known.base_size:
            return known  # from an older read of the exchange: the SQL store keeps the trade too
        stored = evolve(trade, id=known.id if known is not None else self._counts[2])
        self.trades[key] = stored
        return stored

    async def net_base_by_product(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        # Summed in the order the fills were stored, archived or not, as without an archive.
        for stored in self.all_fills() if self._archived else self.fills.values():
            _add_net(totals, stored.fill)
        return totals

    async def known_trade_ids(self, trade_ids: Collection[str]) -> set[str]:
        known = {trade_id for trade_id in trade_ids if trade_id in self.fills}
        if len(known) < len(trade_ids) and self._archived:
            known |= self._archived_trade_ids() & set(trade_ids)
        return known

    # --- the archive ---------------------------------------------------------------------------

    def archive_final(self) -> list[OrderRecord]:
        """Move the final orders in memory, with their fills and trades, into the spill file;
        returns the orders moved. Only for orders nothing writes again (a replay's, once settled):
        one that is written again is brought back, correctly but slowly."""
        if not self._final:
            return []
        batch: list[ArchivedOrder] = []
        moved: list[OrderRecord] = []
        for key in self._final:
            order = self.orders.pop(key)
            fills = tuple(self.fills.pop(trade_id) for trade_id in self._fills_of.pop(key, ()))
            self._submitted_at.pop(key, None)
            self._archived += 1
            batch.append(
                ArchivedOrder(
                    self._archived,
                    self._order_index.pop(key),
                    order,
                    self._submitted.pop(key, None),
                    fills,
                    self.trades.pop(key, None),
                )
            )
            moved.append(order)
        self._final = {}
        self._archive.write(batch)
        return moved

    def _archived_orders(self) -> Iterator[ArchivedOrder]:
        revived = self._revived
        for archived in self._archive.read():
            if archived.number not in revived:
                yield archived

    def _archived_trade_ids(self) -> set[str]:
        return {stored.fill.trade_id for a in self._archived_orders() for stored in a.fills}

    def _revive(self, client_order_id: str) -> bool:
        """Bring an archived order back into memory (it is written again); False: not archived."""
        if not self._archived:
            return False
        for archived in self._archived_orders():
            if archived.order.client_order_id == client_order_id:
                break
        else:
            return False
        self._revived.add(archived.number)
        order = archived.order
        self._order_index[client_order_id] = archived.index
        if archived.submitted is not None and order.submitted_at is not None:
            self._submitted[client_order_id] = archived.submitted
            self._submitted_at[client_order_id] = (order.bot_id, order.submitted_at)
        for stored in archived.fills:
            self.fills[stored.fill.trade_id] = stored
            self._fills_of.setdefault(client_order_id, []).append(stored.fill.trade_id)
        if archived.trade is not None:
            self.trades[client_order_id] = archived.trade
        self._keep(order)
        return True

    def all_orders(self) -> list[OrderRecord]:
        """Every order stored, archived or not, in the order they were first stored."""
        rows = [(self._order_index[key], order) for key, order in self.orders.items()]
        rows += [(a.index, a.order) for a in self._archived_orders()]
        rows.sort(key=lambda row: row[0])
        return [order for _, order in rows]

    def all_fills(self) -> list[StoredFill]:
        """Every fill stored, archived or not, in the order they were stored."""
        rows = list(self.fills.values())
        rows += [stored for a in self._archived_orders() for stored in a.fills]
        rows.sort(key=lambda stored: stored.index)
        return rows

    def all_trades(self) -> list[Trade]:
        """Every trade stored, archived or not, in the order they were first stored."""
        rows = list(self.trades.values())
        rows += [a.trade for a in self._archived_orders() if a.trade is not None]
        rows.sort(key=lambda trade: trade.id or 0)
        return rows

    def close(self) -> None:
        """Remove the spill file (the records archived in it are gone with it)."""
        self._archive.close()

    async def insert_equity_snapshots(self, snapshots: Iterable[EquitySnapshot]) -> None:
        self.snapshots.extend(snapshots)

    # --- holds and risk state ------------------------------------------------------------------

    async def product_holds(self) -> list[ProductHold]:
        return list(self._holds.values())

    async def save_product_hold(self, hold: ProductHold) -> None:
        self._holds[hold.product_id] = hold

    async def delete_product_hold(self, product_id: str) -> bool:
        return self._holds.pop(product_id, None) is not None

    async def load_risk_states(self) -> list[ScopeState]:
        return list(self._risk.values())

    async def save_risk_state(self, state: ScopeState) -> None:
        self._risk[state.key] = state


def _add_net(totals: dict[str, Decimal], fill: Fill) -> None:
    signed = fill.size if fill.side.value == "BUY" else -fill.size
    totals[fill.product_id] = totals.get(fill.product_id, Decimal(0)) + signed
