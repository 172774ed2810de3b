"""The archive's S3-compatible store ([archive.s3]): the few calls the uploader and the reader
make, on boto3, imported only when a bucket is configured.

Objects are ``<prefix>/<WARC file name>``, one PUT per file with its Content-MD5, so the server
refuses a body that arrived damaged; an upload counts once a HEAD shows the object at the local
file's size (and, when the server gives a plain MD5 ETag, that MD5). Every failure (endpoint down,
bad credentials, no bucket) is raised as ``ArchiveStoreError`` with the location and the cause.
"""

from __future__ import annotations

import base64
import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from newsflow.core.errors import ConfigError, NewsflowError
from newsflow.ingest.config import ArchiveS3Config

_CHUNK = 1 << 20


class ArchiveStoreError(NewsflowError):
    """The S3 store could not be reached or refused the call."""


def _md5(path: Path) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.digest()


class S3Store:
    """One bucket and prefix of an S3-compatible server."""

    def __init__(self, config: ArchiveS3Config) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        self.config = config
        secret = config.secret_access_key.get_secret_value() if config.secret_access_key else None
        try:
            self._client: Any = self._open(boto3, Config, secret)
        except (BotoCoreError, ValueError) as exc:  # e.g. a region name boto3 refuses
            raise ConfigError(f"archive.s3: {exc}") from exc

    def _open(self, boto3: Any, Config: Any, secret: str | None) -> Any:
        config = self.config
        return boto3.session.Session().client(
            "s3", endpoint_url=config.endpoint_url, region_name=config.region,
            aws_access_key_id=config.access_key_id, aws_secret_access_key=secret,
            config=Config(
                connect_timeout=5, read_timeout=60, retries={"max_attempts": 2, "mode": "standard"},
                # Path-style urls and checksums only where S3 requires them: what S3-compatible
                # servers (MinIO, Ceph, S3Proxy...) all understand.
                s3={"addressing_style": "path"} if config.endpoint_url else None,
                request_checksum_calculation="when_required", response_checksum_validation="when_required",
            ),
        )

    @contextmanager
    def _errors(self, what: str, name: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise ArchiveStoreError(f"{what} {self.config.location(name)} failed: {err.get('Code', '?')}: "
                                    f"{err.get('Message') or exc}") from exc
        except BotoCoreError as exc:  # no connection, no credentials, a timeout, a broken stream...
            raise ArchiveStoreError(f"{what} {self.config.location(name)} failed: {exc}") from exc

    def _call(self, what: str, name: str, fn: Any, **kwargs: Any) -> Any:
        with self._errors(what, name):
            return fn(Bucket=self.config.bucket, **kwargs)

    def upload(self, path: Path) -> None:
        """Put the file ``path`` as ``<prefix>/<its name>`` and check it arrived whole."""
        name, size, md5 = path.name, path.stat().st_size, _md5(path)
        with open(path, "rb") as fh:
            self._call("upload of", name, self._client.put_object, Key=self.config.key(name), Body=fh,
                       ContentLength=size, ContentMD5=base64.b64encode(md5).decode())
        head = self._call("check of", name, self._client.head_object, Key=self.config.key(name))
        etag = str(head.get("ETag", "")).strip('"')
        if head.get("ContentLength") != size or (len(etag) == 32 and "-" not in etag and etag != md5.hex()):
            raise ArchiveStoreError(f"upload of {self.config.location(name)} failed: the stored object "
                                    f"({head.get('ContentLength')} bytes, ETag {etag}) is not the local file "
                                    f"({size} bytes, MD5 {md5.hex()})")

    def names(self) -> dict[str, int]:
        """The WARC files in the store: name -> size."""
        prefix = self.config.key("")
        found: dict[str, int] = {}
        token: dict[str, str] = {}
        while True:
            page = self._call("listing of", "", self._client.list_objects_v2, Prefix=prefix, **token)
            for obj in page.get("Contents", []):
                name = obj["Key"][len(prefix):]
                if name and "/" not in name:
                    found[name] = int(obj["Size"])
            if not page.get("IsTruncated"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def read(self, name: str, offset: int, length: int) -> bytes:
        """``length`` bytes of the file ``name`` from ``offset`` (a ranged GET)."""
        with self._errors("read of", name):
            got = self._client.get_object(Bucket=self.config.bucket, Key=self.config.key(name),
                                          Range=f"bytes={offset}-{offset + length - 1}")
            return got["Body"].read()

    def download(self, name: str, dest: Path) -> None:
        """The file ``name`` into ``dest``."""
        with self._errors("download of", name), open(dest, "wb") as fh:
            body = self._client.get_object(Bucket=self.config.bucket, Key=self.config.key(name))["Body"]
            while chunk := body.read(_CHUNK):
                fh.write(chunk)


def open_store(config: ArchiveS3Config) -> S3Store | None:
    """The store ``config`` names, or None when no bucket is set."""
    return S3Store(config) if config.enabled else None
