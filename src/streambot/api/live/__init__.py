"""Live push to the dashboard: one event hub on the bus, one bounded queue per WebSocket client."""
