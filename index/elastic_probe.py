"""Is the Elasticsearch cluster reachable? One ``_cluster/health`` with a short timeout and no
retries, cheap enough to run every few seconds (daemon readiness, `newsflow status`)."""

from __future__ import annotations

from newsflow.index.config import ElasticsearchConfig
from newsflow.index.elastic import make_client


def unreachable(cfg: ElasticsearchConfig, timeout: float = 2.0) -> str | None:
    """None when the cluster answers and is not red, else why not."""
    quick = cfg.model_copy(update={"request_timeout": timeout})
    client = make_client(quick).options(max_retries=0, request_timeout=timeout)
    try:
        status = client.cluster.health()["status"]
    except Exception as exc:  # any failure to get an answer is "unreachable"
        return f"{', '.join(cfg.hosts)}: {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        client.close()
    return None if status in ("green", "yellow") else f"{', '.join(cfg.hosts)}: cluster status {status}"
