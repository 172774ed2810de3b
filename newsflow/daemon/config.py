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
