"""What changed in the account since it was last saved: the rows a persistent account rewrites."""

from __future__ import annotations

from dataclasses import dataclass

from streambot.venues.matcher.accounts import Account
from streambot.venues.matcher.fills import SimFill
from streambot.venues.matcher.orders import SimOrder


@dataclass(frozen=True, slots=True)
class Changes:
    """What moved since the last ``take_changes``: the rows a persistent account must rewrite."""

    accounts: list[Account]
    orders: list[SimOrder]
    fills: list[SimFill]
    order_sequence: int
    fill_sequence: int

    def __bool__(self) -> bool:
        return bool(self.accounts or self.orders or self.fills)
