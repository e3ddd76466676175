"""The risk engine's state per scope: HALTED and the kill switches survive a restart."""

from __future__ import annotations

from sqlalchemy import select

from streambot.domain import BotId
from streambot.risk.state import ScopeState
from streambot.store.models import RiskStateRow
from streambot.store.sql import SqlRepository, columns


class RiskStateRepository(SqlRepository):
    async def load_risk_states(self) -> list[ScopeState]:
        async with self._transaction() as session:
            rows = await session.scalars(select(RiskStateRow).order_by(RiskStateRow.scope_key))
            return [_scope_state(row) for row in rows]

    async def save_risk_state(self, state: ScopeState) -> None:
        """Insert or replace the scope's row."""
        values = columns(state, updated_at=self._clock.now())
        statement = (
            self._dialect_insert(RiskStateRow)
            .values(scope_key=state.key, **values)
            .on_conflict_do_update(index_elements=[RiskStateRow.scope_key], set_=values)
        )
        async with self._transaction() as session:
            await session.execute(statement)


def _scope_state(row: RiskStateRow) -> ScopeState:
    return ScopeState(
        bot_id=None if row.bot_id is None else BotId(row.bot_id),
        halted=row.halted,
        halt_code=row.halt_code,
        halt_reason=row.halt_reason,
        halted_at=row.halted_at,
        kill_switch=row.kill_switch,
        kill_reason=row.kill_reason,
        kill_at=row.kill_at,
        day=row.day,
        day_start_equity=row.day_start_equity,
        equity_peak=row.equity_peak,
        last_loss_at=row.last_loss_at,
    )
