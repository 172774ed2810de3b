"""Prometheus counters of the ingest side (served by the daemon's metrics endpoint)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FEEDS_POLLED = Counter(
    "newsflow_feeds_polled_total", "Feed polls by result (ok, not_modified, unchanged, bozo, error)", ["result"]
)
FEED_ERRORS = Counter("newsflow_feed_errors_total", "Feed polls that failed, by error kind", ["kind"])
ARTICLES_EXTRACTED = Counter("newsflow_articles_extracted_total", "Articles extracted and acknowledged by the bus")
ARTICLE_ERRORS = Counter("newsflow_article_errors_total", "Entries that gave no article, by error kind", ["kind"])
EXTRACTION_SECONDS = Histogram(
    "newsflow_extraction_seconds",
    "Time to extract one article page",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ARTICLES_WAITING = Gauge(
    "newsflow_articles_waiting_for_bus", "Extracted articles the bus refused, waiting for a retry (in memory and in the state)"
)
BUS_RETRIES = Counter(
    "newsflow_bus_retries_total", "Articles sent again after the bus refused them, by result (acked, refused)", ["result"]
)
ARTICLES_SPILLED = Counter(
    "newsflow_articles_spilled_total", "Refused articles written to the state database: over poller.bus_retry_memory"
)
ARCHIVE_RECORDS = Counter("newsflow_archive_records_total", "WARC records written to the raw archive, by kind (page, feed)", ["kind"])
ARCHIVE_BYTES = Counter("newsflow_archive_bytes_total", "Compressed bytes written to the raw archive")
ARCHIVE_ERRORS = Counter("newsflow_archive_errors_total",
                         "Pages or feeds the raw archive could not write, by kind; kind=upload: failed tries to upload a WARC file to archive.s3",
                         ["kind"])
ARCHIVE_UPLOADED = Counter("newsflow_archive_uploaded_files_total", "WARC files uploaded to archive.s3 and checked")
ARCHIVE_UPLOAD_PENDING = Gauge("newsflow_archive_upload_pending_files", "Closed WARC files not yet uploaded to archive.s3")
