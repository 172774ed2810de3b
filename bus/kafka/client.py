"""What every Kafka client of the bus shares: connection and security settings, error mapping."""

from __future__ import annotations

import logging
from typing import Any

from kafka import errors as kerr

from newsflow.bus.backend import BusUnavailable
from newsflow.bus.config import KafkaConfig


RECONNECT_BACKOFF_MAX_MS = 1000


def unavailable(exc: BaseException, what: str) -> BaseException:
    """Map kafka-python's transient errors to BusUnavailable; keep the others as they are."""
    if isinstance(exc, BusUnavailable):
        return exc
    # Retriable: timeouts, lost connections, no leader or coordinator yet -- "not right now".
    if isinstance(exc, kerr.RetriableError) or getattr(exc, "retriable", False):
        err = BusUnavailable(f"kafka: {what}: {exc}")
        err.__cause__ = exc
        return err
    return exc


class _Redact(logging.Filter):
    """kafka-python's admin client logs its whole config at DEBUG, password included."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, "**********"), None
        return True


_REDACTED: set[str] = set()


def client_config(cfg: KafkaConfig) -> dict[str, Any]:
    """Connection and security settings shared by the admin client, producers and consumers."""
    conf: dict[str, Any] = {
        "bootstrap_servers": list(cfg.bootstrap_servers),
        "client_id": cfg.client_id,
        "security_protocol": cfg.security_protocol,
        "bootstrap_timeout_ms": int(cfg.timeout * 1000),
        "ssl_check_hostname": cfg.ssl_check_hostname,
        # kafka-python backs reconnects off up to 30 s: after a broker restart a client could sit
        # that long before trying again. The Java client's bound, 1 s, reconnects in seconds.
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
    }
    for key in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        value = getattr(cfg, key)
        if value is not None:
            conf[key] = str(value)
    if cfg.sasl_mechanism is not None:
        if cfg.sasl_mechanism == "OAUTHBEARER":
            raise ValueError("bus.kafka.sasl_mechanism OAUTHBEARER needs a token provider; newsflow configures none")
        if cfg.sasl_username is None or cfg.sasl_password is None:
            raise ValueError(f"bus.kafka.sasl_mechanism {cfg.sasl_mechanism} needs sasl_username and sasl_password")
        secret = cfg.sasl_password.get_secret_value()
        conf.update(sasl_mechanism=cfg.sasl_mechanism, sasl_plain_username=cfg.sasl_username, sasl_plain_password=secret)
        if secret and secret not in _REDACTED:
            _REDACTED.add(secret)
            logging.getLogger("kafka.admin.client").addFilter(_Redact(secret))
    return conf
