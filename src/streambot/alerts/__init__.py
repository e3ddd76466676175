"""Alerts: conditions an operator must hear about, raised once and cleared when they pass."""
