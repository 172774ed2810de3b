"""`newsflow dlq replay`: dead letters back to the topic they came from."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from newsflow.cli.common import ConfigOpt, load_settings, out

dlq_app = typer.Typer(help="Dead letters: messages a stage could not process.", no_args_is_help=True)


@dlq_app.command("replay")
def dlq_replay(
    config: Optional[Path] = ConfigOpt,
    limit: Optional[int] = typer.Option(None, help="At most this many dead letters."),
    idle: float = typer.Option(5.0, help="Stop after this many seconds without a dead letter."),
) -> None:
    """Send dead letters back to the topic they came from (after you fixed the cause)."""
    from newsflow.bus.dead_letters import replay
    from newsflow.daemon import logs
    from newsflow.pipeline.backends import group, open_broker, topic_partitions

    s = load_settings(config)
    logs.configure("text", "WARNING")
    broker = open_broker(s)
    broker.create_topics(topic_partitions(s))
    producer = broker.producer()
    try:
        result = replay(broker.consumer(group(s, "dlq-replay")), producer, s.bus.topics.dead_letters, limit=limit, idle_timeout=idle)
    finally:
        producer.close()
    out.print(f"replayed {result.replayed} dead letters ({', '.join(f'{t}: {n}' for t, n in result.by_topic.items()) or 'none'}); {result.invalid} unreadable skipped", highlight=False)
