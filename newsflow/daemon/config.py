"""The daemons' config section ([daemon])."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from newsflow.core.config import Section


class DaemonConfig(Section):
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=0, ge=0, le=65535, description="0 disables the HTTP endpoint")
    shutdown_timeout: float = Field(default=30.0, gt=0)
    log_format: Literal["json", "text"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Readiness and newsflow_service_up follow a probe of the bus and the index this often.
    probe_interval: float = Field(default=2.0, gt=0, description="seconds between reachability probes")
    probe_timeout: float = Field(default=2.0, gt=0, description="seconds a reachability probe may take")
    # The fault history `newsflow status` shows (pipeline/fault_log.py): kept this long, this many.
    history_events: int = Field(default=1000, ge=10, description="fault events kept in the status store")
    history_days: float = Field(default=30.0, gt=0, description="days fault events are kept")
