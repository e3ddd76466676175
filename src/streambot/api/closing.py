"""Selling a bot's whole position now (``POST /api/v1/bots/{id}/close``), in the process that trades
the bot: the API's own in ``streambot run``, the owning worker's in a cluster (asked over the event
stream, ``cluster/remote_close.py``). Either way the outcome is one ``CloseOutcome``, reported by the
route the same way."""

from __future__ import annotations

from streambot.bots import BotManager
from streambot.bus import PriceBoard
from streambot.cluster.remote_close import CloseOutcome
from streambot.domain import BotId, BotRecord
from streambot.risk.base import RiskRejection
from streambot.trading.order_path import ORDER_IN_FLIGHT, OrderPath


def holding_text(bots: BotManager, bot_id: BotId, product_id: str) -> str:
    position = bots.position(bot_id)
    return f"{format(position.base, 'f')} {product_id.partition('-')[0]} (cost {position.cost:.2f})"


async def close_here(
    bots: BotManager, prices: PriceBoard, order_path: OrderPath, record: BotRecord, *, wait: bool
) -> CloseOutcome:
    """The sell stored by this process's order path; a conflict when there is nothing to sell, no
    price yet or an order of the bot under way; unprocessable when a risk rule refuses the sell."""
    if not bots.holding(record.id):
        held = holding_text(bots, record.id, record.product_id)
        dust = bots.position(record.id).base > 0
        return CloseOutcome(
            refused="conflict",
            message=f"bot {record.id} has no position to close"
            + (f" (it holds {held}, below the minimum order size)" if dust else ""),
        )
    tick = prices.get(record.product_id)
    if tick is None:
        return CloseOutcome(
            refused="conflict",
            message=f"no price for {record.product_id} yet; close again once the market data arrives",
        )
    outcome = await order_path.exit_position(
        bots.exit_runtime(record.id),
        tick,
        "close: sell the whole position (asked for by a person)",
        wait=wait,
    )
    if isinstance(outcome, RiskRejection):
        if outcome.code == ORDER_IN_FLIGHT:
            return CloseOutcome(refused="conflict", message=f"bot {record.id}: {outcome.message}")
        return CloseOutcome(
            refused="unprocessable", message=f"the close was refused: {outcome.code}: {outcome.message}"
        )
    return CloseOutcome(order=outcome)
