"""deploy/local/services.sh kafka-tool: Kafka's own command-line tools (fetched from Maven Central
at the broker's version by `services.sh up` or `fetch-tools`) against the running broker, with
--bootstrap-server defaulted to the local one."""

from __future__ import annotations

import os
import subprocess

import pytest

from newsflow.core.record import Article
from newsflow.pipeline.poll_stage import ArticleSink
from tests.conftest import KAFKA_SERVERS, unique
from tests.support.daemons import REPO, SERVICES_SH

services = pytest.mark.services


def kafka_tool(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # The wrapper defaults to 127.0.0.1:$KAFKA_PORT; tests pointed at another broker say so.
    host, _, port = KAFKA_SERVERS.split(",")[0].rpartition(":")
    extra = [] if host == "127.0.0.1" else ["--bootstrap-server", KAFKA_SERVERS.split(",")[0]]
    env = {**os.environ, "KAFKA_PORT": port}
    return subprocess.run(["bash", str(SERVICES_SH), "kafka-tool", *args, *extra],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env)


@services
def test_kafka_tools_list_topics_describe_groups_and_show_article_headers(kafka_broker, kafka_topic):
    topic = kafka_topic(2)
    producer = kafka_broker.producer()
    try:
        ArticleSink(producer, topic)(Article.new("https://example.org/tools", title="Tools", text="text")).result(30)
    finally:
        producer.close()
    group = unique("g-tools")
    consumer = kafka_broker.consumer(group)
    try:
        consumer.subscribe([topic])
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None:
                consumer.commit({msg.partition: msg.next_offset})
                break
        assert msg is not None, "the article was not consumed"
    finally:
        consumer.close()

    listed = kafka_tool("topics", "--list")
    assert listed.returncode == 0, listed.stderr
    assert topic in listed.stdout.split()

    described = kafka_tool("topics", "--describe", "--topic", topic)
    assert described.returncode == 0, described.stderr
    assert "PartitionCount: 2" in described.stdout

    groups = kafka_tool("consumer-groups", "--describe", "--group", group)
    assert groups.returncode == 0, groups.stderr
    rows = [line.split() for line in groups.stdout.splitlines() if line.startswith(group)]
    # the group has left: the tool shows the partition it committed, offset 1 of 1, no lag
    assert [(r[1], r[3], r[4], r[5]) for r in rows] == [(topic, "1", "1", "0")], groups.stdout

    # The article's headers, as an operator sees them with the console consumer.
    shown = kafka_tool("console-consumer", "--topic", topic, "--from-beginning", "--max-messages", "1",
                       "--timeout-ms", "30000", "--formatter-property", "print.headers=true",
                       "--formatter-property", "print.value=false")
    assert shown.returncode == 0, shown.stderr
    assert "schema-version:1" in shown.stdout and "content-type:application/json" in shown.stdout, shown.stdout
    assert "producer:newsflow/" in shown.stdout and " poll" in shown.stdout, shown.stdout


def test_kafka_tool_names_its_tools_and_refuses_unknown_ones():
    listing = subprocess.run(["bash", str(SERVICES_SH), "kafka-tool", "list"], capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    tools = dict(line.split() for line in listing.stdout.splitlines())
    assert tools["topics"] == "org.apache.kafka.tools.TopicCommand"
    assert tools["consumer-groups"] == "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
    assert tools["console-consumer"] == "org.apache.kafka.tools.consumer.ConsoleConsumer"
    assert tools["configs"] == "kafka.admin.ConfigCommand"
    unknown = subprocess.run(["bash", str(SERVICES_SH), "kafka-tool", "no-such-tool"], capture_output=True, text=True, timeout=30)
    assert unknown.returncode != 0 and "unknown Kafka tool 'no-such-tool'" in unknown.stderr
