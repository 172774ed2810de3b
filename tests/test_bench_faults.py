"""`newsflow bench faults` end to end, on the bench's own Kafka broker and Elasticsearch node (it
starts them with deploy/local/services.sh on free ports and stops them; the shared ones are not
touched): a poisoned bulk and an enrich daemon SIGKILLed mid-stream, beside the undisturbed run.

What is asserted is what issue 15 asks of the pipeline, from the bench's own counts: nothing lost,
nothing duplicated, every valid document indexed and the poison its only dead letter. Recovery
times are printed by the bench, not asserted (timings on a shared machine prove nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_SERVICES

REPO = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.services, pytest.mark.drill]


@pytest.mark.timeout(600)
def test_poisoned_bulk_and_enrich_kill_lose_nothing_duplicate_nothing_and_dead_letter_only_the_poison(tmp_path):
    if shutil.which("java") is None:
        if REQUIRE_SERVICES:
            pytest.fail("java is missing; NEWSFLOW_REQUIRE_SERVICES=1, so services tests must not skip")
        pytest.skip("the bench starts its own Kafka and Elasticsearch: needs Java 17+ (deploy/local/services.sh)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "newsflow", "bench", "faults", "--drills", "poisoned-bulk,enrich-kill", "--articles", "40",
         "--json", "--logs", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=590,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    report = json.loads(proc.stdout)
    drills = {d["drill"]: d for d in report["drills"]}
    assert list(drills) == ["baseline", "poisoned-bulk", "enrich-kill"]

    served = drills["baseline"]["served"]
    assert served > 30  # nearly all 40 pages of the corpus have an article
    for name, d in drills.items():
        assert d["complete"], (name, d)
        assert d["served"] == served and d["indexed"] == served, (name, d)
        assert d["lost"] == 0 and d["duplicated"] == 0 and d["unexpected"] == 0, (name, d)

    assert drills["baseline"]["dead_letters"] == 0 and drills["enrich-kill"]["dead_letters"] == 0
    # The poison went out in one bulk with valid documents, was refused as a whole, split, and is the
    # only dead letter; every valid document of that bulk was indexed (lost == 0 above).
    poison = drills["poisoned-bulk"]
    assert poison["dead_letters"] == 1, poison
    refused = [n for n in poison["notes"] if "refused a bulk of" in n]
    assert refused and "is too long, must be no longer than 512 bytes" in refused[0], poison["notes"]
    assert int(refused[0].split("refused a bulk of ")[1].split()[0]) > 1, refused[0]
    # The enrich daemon really was killed and started again: a second process answered.
    assert "enrich" in drills["enrich-kill"]["restart_seconds"], drills["enrich-kill"]
    assert all(stage in drills["enrich-kill"]["recovery"] for stage in ("poll", "enrich", "index"))

    # The bench's own services are gone: nothing of ours is left listening.
    for service, address in report["services"].items():
        if service in ("kafka", "elasticsearch"):
            port = int(address.rsplit(":", 1)[1])
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
