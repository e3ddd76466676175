"""Risk: one rule per module (``check(intent, ctx) -> RiskRejection | None``) and the engine running them."""
