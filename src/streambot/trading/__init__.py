"""The trading engine around the executor: sizing, open orders, settlement, reconciliation, P&L."""
