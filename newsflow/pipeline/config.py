"""What the pipeline needs of the application's settings: the sections of the layers it composes.

A Protocol, so the pipeline never imports the application; ``newsflow.settings.Settings`` is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

from newsflow.bus.config import BusConfig
from newsflow.daemon.config import DaemonConfig
from newsflow.index.config import IndexConfig
from newsflow.ingest.config import ArchiveConfig, ExtractConfig, FeedConfig, PollerConfig
from newsflow.processors.config import EnrichConfig


class PipelineSettings(Protocol):
    @property
    def data_dir(self) -> Path: ...
    @property
    def feeds(self) -> Sequence[FeedConfig]: ...
    @property
    def poller(self) -> PollerConfig: ...
    @property
    def extract(self) -> ExtractConfig: ...
    @property
    def archive(self) -> ArchiveConfig: ...
    @property
    def enrich(self) -> EnrichConfig: ...
    @property
    def bus(self) -> BusConfig: ...
    @property
    def index(self) -> IndexConfig: ...
    @property
    def daemon(self) -> DaemonConfig: ...
    @property
    def state_db(self) -> Path: ...
    @property
    def index_db(self) -> Path: ...
    @property
    def bus_db(self) -> Path: ...
