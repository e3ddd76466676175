"""The paper account's balances: one ``Account`` per currency, with its ids stable across restarts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

ID_NAMESPACE: Final = uuid.UUID("5f0c6a62-2f6e-4c41-9d8e-7f3b1f1c0a11")


def account_uuid(currency: str) -> str:
    """Stable per currency, so a restarted simulator keeps the same account ids."""
    return str(uuid.uuid5(ID_NAMESPACE, f"account:{currency}"))


@dataclass(slots=True)
class Account:
    uuid: str
    currency: str
    available: Decimal = Decimal(0)
    hold: Decimal = Decimal(0)
    created_at: float = 0.0
    updated_at: float = 0.0
