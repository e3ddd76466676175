"""The bus: typed events to subscribers, ticks to latest-wins mailboxes; the latest prices board."""

from streambot.bus.in_process import InProcessBus
from streambot.bus.mailbox import TickMailbox
from streambot.bus.price_board import PriceBoard
from streambot.bus.protocol import Bus, EventHandler, Unsubscribe

__all__ = ["Bus", "EventHandler", "InProcessBus", "PriceBoard", "TickMailbox", "Unsubscribe"]
