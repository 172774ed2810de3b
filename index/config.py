"""The index layer's config section ([index], with [index.elasticsearch])."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from newsflow.core.config import CommaList, Section


class ElasticsearchConfig(Section):
    hosts: CommaList = Field(default_factory=lambda: ["http://127.0.0.1:9200"])
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    verify_certs: bool = True
    alias: str = "newsflow-articles"
    feed_status_index: str = "newsflow-feed-status"
    # Fault history of the daemons (`newsflow status`), see index/events_elastic.py.
    events_index: str = "newsflow-events"
    shards: int = Field(default=1, ge=1)
    replicas: int = Field(default=0, ge=0)
    request_timeout: float = Field(default=30.0, gt=0)
    # Bytes of one bulk request at most (below the cluster's http.max_content_length, 100 MB by
    # default, and any proxy's body limit); a 413 lowers it for the rest of the process.
    bulk_max_bytes: int = Field(default=50 * 1024 * 1024, ge=64 * 1024)


class IndexConfig(Section):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
