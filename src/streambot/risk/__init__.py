"""Risk: one rule per module (``check(intent, ctx) -> Rejection | None``) and the engine running them."""
