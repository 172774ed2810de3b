"""What every long-running stage shares: signals, the health and metrics endpoint, JSON logs, and
their config section ([daemon])."""
