"""What the Elasticsearch indices look like: the articles' index template (elastic_template.json,
which the Kibana assets are checked against) and the feed-status index's mapping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from newsflow.index.config import ElasticsearchConfig

TEMPLATE_FILE = Path(__file__).with_name("elastic_template.json")

FEED_STATUS_MAPPINGS: dict[str, Any] = {
    "dynamic": "false",
    "properties": {
        "url": {"type": "keyword", "ignore_above": 4096},
        "name": {"type": "keyword", "ignore_above": 256},
        "status": {"type": "keyword"},
        "last_attempt": {"type": "date"},
        "last_success": {"type": "date"},
        "last_error": {"type": "text"},
        "last_error_kind": {"type": "keyword"},  # chartable: errors by kind
        "consecutive_failures": {"type": "integer"},
        "next_poll": {"type": "date"},
        "items_per_day": {"type": "float"},
        "moved_to": {"type": "keyword", "ignore_above": 4096},  # a permanent redirect's target: update the config
        "waiting": {"type": "integer"},  # articles the bus refused, waiting for a retry (status "degraded")
        "updated_at": {"type": "date"},
    },
}

# One document per story (``<prefix>-stories``), id = story_id; see index/elastic_stories.py.
STORIES_MAPPINGS: dict[str, Any] = {
    "dynamic": "false",
    "properties": {
        "story_id": {"type": "keyword"},
        "size": {"type": "integer"},
        "sites": {"type": "keyword", "ignore_above": 256},
        "site_count": {"type": "integer"},
        "first_seen": {"type": "date"},
        "first_site": {"type": "keyword", "ignore_above": 256},
        "first_article": {"type": "keyword"},
        "last_update": {"type": "date"},
        "title": {"type": "text", "analyzer": "standard", "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
        "languages": {"type": "keyword"},
    },
}


def index_template(cfg: ElasticsearchConfig) -> dict[str, Any]:
    """The ``template`` body (settings + mappings) for ``<alias>-*``."""
    body = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))
    body.pop("_comment", None)
    body["settings"]["index"].update(number_of_shards=cfg.shards, number_of_replicas=cfg.replicas)
    return body
