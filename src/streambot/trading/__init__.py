"""The order path and what surrounds it: sizing, open orders, settlement, reconciliation, equity, P&L."""
