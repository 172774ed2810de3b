"""The ingest layer's config sections: the feed list ([[feeds]]), the poller ([poller]), the
extractor ([extract]) and the raw archive ([archive], [archive.s3]). The application's settings
compose them."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from newsflow.core.config import CommaList, Section
from newsflow.ingest.shard import parse_shard


class FeedConfig(Section):
    url: str
    name: str | None = None
    # Optional per-feed overrides of the poll interval bounds (seconds).
    min_interval: float | None = Field(default=None, gt=0)
    max_interval: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _plain_url(cls, v: Any) -> Any:
        # `feeds = ["https://example.org/feed.xml"]`: a bare url is a feed with no options.
        return {"url": v} if isinstance(v, str) else v

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// url")
        return v


class PollerConfig(Section):
    user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow; news ingestion bot)"
    default_interval: float = Field(default=900.0, gt=0, description="first interval, seconds")
    min_interval: float = Field(default=300.0, gt=0)
    max_interval: float = Field(default=6 * 3600.0, gt=0)
    error_backoff_max: float = Field(default=24 * 3600.0, gt=0, description="cap of the error backoff")
    timeout: float = Field(default=20.0, gt=0, description="seconds to connect, and between two reads of a response")
    # Deadlines a slow or dripping server cannot stretch: one request in all, one feed's poll
    # (its entries not reached are left for the next poll), and the wait for work in flight once
    # a stop is asked for (what is cut off is fetched again next run).
    request_deadline: float = Field(default=30.0, gt=0, description="seconds one request may take in all")
    feed_deadline: float = Field(default=180.0, gt=0, description="seconds one feed's poll may take, its pages included")
    stop_grace: float = Field(default=5.0, ge=0, description="seconds in-flight fetches may finish after a stop")
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    per_host_concurrency: int = Field(default=1, ge=1, le=2)
    per_host_delay: float = Field(default=1.0, ge=0, description="minimum seconds between requests to one host")
    obey_robots: bool = Field(default=True, description="check article pages against their site's robots.txt")
    max_crawl_delay: float = Field(
        default=30.0, ge=0,
        description="honour a robots.txt Crawl-delay up to this many seconds between requests to a host (0: ignore it)",
    )
    concurrency: int = Field(default=32, ge=1, description="requests in flight over all hosts")
    max_entries_per_poll: int = Field(default=200, ge=1)
    seen_ids_per_feed: int = Field(default=5000, ge=10, description="how many entry ids to remember per feed")
    # Which feeds carried an article is kept so a record lists them all; an article no feed has
    # shown for this long is forgotten, so the state file does not grow for ever.
    article_memory_days: float = Field(default=90.0, gt=0, description="forget an article's feeds after this many days unseen")
    failing_after: int = Field(default=5, ge=1, description="consecutive errors before a feed is flagged failing")
    # An extracted article the bus refused is kept and sent again (ingest/retry_queue.py): after
    # bus_retry_initial seconds, doubling up to bus_retry_max while the bus refuses (jittered).
    # Up to bus_retry_memory articles wait in memory; more go to the state database.
    bus_retry_initial: float = Field(default=0.5, gt=0, description="first delay before a refused article is sent again")
    bus_retry_max: float = Field(default=10.0, gt=0, description="longest delay between retries while the bus refuses")
    bus_retry_memory: int = Field(default=500, ge=1, description="refused articles held in memory; more wait in the state DB")
    # Send requests for an origin to another one, keeping the logical url (and so the
    # article ids): {"https://example-news.blogspot.com": "http://127.0.0.1:8080"}.
    # For the demo, mirrors and benchmarks; empty in production.
    host_map: dict[str, str] = Field(default_factory=dict)
    # The SSRF guard (ingest/address_guard.py) refuses internal addresses (loopback, private,
    # link-local, ...) for feeds, pages, redirects and robots.txt alike; list here the hosts,
    # addresses or networks ("intranet.example", "10.20.0.0/16") polled on purpose.
    allow_addresses: CommaList = Field(default_factory=list, description="internal hosts or networks that may be fetched")
    # "i/N": this poller takes only the feeds whose host hash mod N is i (ingest/shard.py), so N
    # pollers share one feed list with no coordination. None: every feed.
    shard: str | None = None
    # Sitemap sources (ingest/sitemap_source.py): an index's children are read newest first,
    # those (and urls) dated older than the window left out; the bounds stop a runaway index.
    sitemap_recent_days: float = Field(default=7.0, gt=0, description="sitemap urls and child sitemaps older than this are skipped")
    sitemap_max_children: int = Field(default=20, ge=1, description="child sitemaps read per poll of a sitemap index")
    sitemap_max_depth: int = Field(default=2, ge=1, description="levels of nested sitemap indexes followed")
    # A child whose <lastmod> in a re-read index has not moved is not asked again until this long
    # after its last check: lastmods are often absent or wrong, so they only ever postpone a check.
    sitemap_child_recheck: float = Field(default=3600.0, ge=0, description="seconds a child sitemap with an unmoved lastmod goes unasked; 0 always asks")

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str | None) -> str | None:
        if v is not None:
            parse_shard(v)
        return v

    @model_validator(mode="after")
    def _bounds(self) -> "PollerConfig":
        if self.min_interval > self.max_interval:
            raise ValueError("min_interval must not exceed max_interval")
        return self


class ExtractConfig(Section):
    min_text_chars: int = Field(default=80, ge=0, description="shorter text counts as 'no extractable text'")
    boilerplate_filter: bool = True
    site_templates: bool = True  # learn per-site chrome lines (see ingest/extract/site_templates.py)
    workers: int = Field(default=1, ge=1, description="extraction processes of a poller")
    # The poller sets it to poller.max_body_bytes: the extractor takes what the fetcher may bring.
    max_page_bytes: int = Field(default=5_000_000, gt=0, description="largest page, in bytes, the extractor reads")
    timeout: float = Field(
        default=30.0, gt=0, description="seconds one page may take to extract; a slower one fails as extract_timeout"
    )


# S3's bucket naming rules (3-63 lowercase letters, digits, dots, hyphens), which the
# S3-compatible servers follow too.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# One PUT per WARC file (ingest/archive_s3.py), S3's limit for one.
S3_MAX_PUT_BYTES = 5 * 1024**3


class ArchiveS3Config(Section):
    """An S3-compatible copy of the archive ([archive.s3], ingest/archive_upload.py): off unless
    ``bucket`` is set. Credentials: the keys below, the secret from the environment
    (NEWSFLOW_ARCHIVE__S3__SECRET_ACCESS_KEY), else boto3's own chain (AWS_* variables,
    ~/.aws/credentials, an instance role)."""

    bucket: str | None = Field(default=None, description="the bucket; set, closed WARC files are uploaded to it")
    prefix: str = Field(default="", description="key prefix of the objects: <prefix>/<file name>")
    endpoint_url: str | None = Field(default=None, description="an S3-compatible server; none: AWS")
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    keep_local: bool = Field(default=True, description="keep a file's local copy once uploaded (else delete it)")
    retry_initial: float = Field(default=5.0, gt=0, description="seconds before retrying a failed upload")
    retry_max: float = Field(default=300.0, gt=0, description="longest wait between two upload tries")
    close_timeout: float = Field(default=30.0, ge=0, description="seconds a stopping process spends uploading what is left")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, v: str | None) -> str | None:
        if v is not None and not _BUCKET.match(v):
            raise ValueError("not a bucket name (3-63 characters: lowercase letters, digits, dots, hyphens)")
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        return v.strip("/")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// url")
        return v

    @model_validator(mode="after")
    def _complete(self) -> "ArchiveS3Config":
        given = [k for k in ("prefix", "endpoint_url", "region", "access_key_id", "secret_access_key")
                 if k in self.model_fields_set]
        if self.bucket is None and given:
            raise ValueError(f"bucket must be set when {given[0]} is (archive.s3 is off without a bucket)")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together (or neither: the AWS credential chain)")
        return self

    @property
    def enabled(self) -> bool:
        return self.bucket is not None

    def location(self, name: str = "") -> str:
        """``s3://bucket/prefix/name``, for messages."""
        return f"s3://{self.bucket}/{self.key(name)}"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name


class ArchiveConfig(Section):
    """The raw archive ([archive]): every fetched page and changed feed as WARC records
    (ingest/archive_writer.py), so `newsflow reprocess` can replay them without the network."""

    enabled: bool = True
    # Relative to the data dir unless absolute.
    dir: str = "archive"
    max_file_bytes: int = Field(default=100_000_000, gt=0, description="rotate a WARC file past this size")
    max_file_seconds: float = Field(default=3600.0, gt=0, description="rotate a WARC file open this long")
    retention_days: float | None = Field(default=None, gt=0, description="delete closed files older than this")
    max_total_bytes: int | None = Field(default=None, gt=0, description="delete the oldest closed files past this total")
    s3: ArchiveS3Config = Field(default_factory=ArchiveS3Config)

    @model_validator(mode="after")
    def _one_put(self) -> "ArchiveConfig":
        if self.s3.enabled and self.max_file_bytes > S3_MAX_PUT_BYTES:
            raise ValueError(f"max_file_bytes must be at most {S3_MAX_PUT_BYTES} with archive.s3 (one PUT per file)")
        return self
