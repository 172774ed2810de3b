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
    check: bool = typer.Option(True, help="Refuse letters whose cause persists (see docs/operators-guide.md, Dead letters)."),
) -> None:
    """Send dead letters back to the topic they came from (after you fixed the cause).

    A letter whose cause persists (still unreadable, still rejected by the index) is refused:
    not sent back, listed with its reason; the command then exits with code 1.
    """
    from newsflow.bus.dead_letters import replay
    from newsflow.daemon import logs
    from newsflow.pipeline.backends import group, open_broker, open_index, topic_partitions
    from newsflow.pipeline.dlq_check import PersistingCause

    s = load_settings(config)
    logs.configure("text", "WARNING")
    broker = open_broker(s)
    broker.create_topics(topic_partitions(s))
    producer = broker.producer()
    topic = s.bus.topics.dead_letters
    checker = PersistingCause(s.bus.topics, lambda: open_index(s, create=False)) if check else None
    try:
        result = replay(broker.consumer(group(s, "dlq-replay")), producer, topic, limit=limit, idle_timeout=idle, check=checker)
    finally:
        producer.close()
        if checker is not None:
            checker.close()
    out.print(
        f"replayed {result.replayed} dead letters ({', '.join(f'{t}: {n}' for t, n in result.by_topic.items()) or 'none'}); "
        f"{result.invalid} unreadable skipped; {result.refused} refused",
        highlight=False,
        soft_wrap=True,
    )
    if result.refused:
        out.print(f"refused {result.refused} dead letters whose cause persists (not sent back; they stay on {topic}):", highlight=False, soft_wrap=True)
        for r in result.refusals:
            out.print(f"  {topic}[{r.partition}]@{r.offset} (stage {r.letter.stage}, from {r.letter.topic}@{r.letter.offset}): {r.reason}", highlight=False, markup=False, soft_wrap=True)
        if result.refused > len(result.refusals):
            out.print(f"  ... and {result.refused - len(result.refusals)} more (logged)", highlight=False)
        raise typer.Exit(1)
