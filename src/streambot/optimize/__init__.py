"""``streambot optimize``: Optuna searches over a strategy's parameters, each trial a backtest."""
