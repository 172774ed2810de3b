"""A real S3-compatible server for the archive.s3 tests: S3Proxy (org.gaul:s3proxy, fetched by
`deploy/local/services.sh s3proxy-jar`) on a port of 127.0.0.1, its objects in a directory,
requests signed (AWS v2 or v4) with the identity and credential below."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
IDENTITY, CREDENTIAL = "newsflow-test", "newsflow-test-secret"
START_TIMEOUT = 120.0


class S3ProxyUnavailable(Exception):
    """No Java, or the jar could not be fetched."""


def s3proxy_jar() -> Path:
    if shutil.which("java") is None:
        raise S3ProxyUnavailable("no `java` on PATH (S3Proxy needs Java 17+)")
    done = subprocess.run(["bash", str(REPO / "deploy/local/services.sh"), "s3proxy-jar"], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        raise S3ProxyUnavailable(f"`services.sh s3proxy-jar` failed: {done.stderr.strip()[-500:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def s3proxy(jar: Path, port: int, data: Path) -> Iterator[str]:
    """S3Proxy on ``port`` with its buckets in ``data``; yields its endpoint url, stops it after."""
    data.mkdir(parents=True, exist_ok=True)
    (data / "blobs").mkdir(exist_ok=True)
    endpoint = f"http://127.0.0.1:{port}"
    props = data / "s3proxy.conf"
    props.write_text(
        f"s3proxy.endpoint={endpoint}\ns3proxy.authorization=aws-v2-or-v4\n"
        f"s3proxy.identity={IDENTITY}\ns3proxy.credential={CREDENTIAL}\n"
        f"jclouds.provider=filesystem\njclouds.filesystem.basedir={data / 'blobs'}\n"
        f"jclouds.identity={IDENTITY}\njclouds.credential={CREDENTIAL}\n"
    )
    with open(data / "s3proxy.log", "wb") as out:
        proc = subprocess.Popen(["java", "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", str(jar),
                                 "--properties", str(props)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"S3Proxy did not start on {endpoint}: {(data / 's3proxy.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
