"""The claim check's store on an S3-compatible bucket (MinIO, Ceph RGW, a cloud's object store).

Why a bucket: a folder store needs one mount that every hub process, on every machine, sees —
the thing a province running the hub on several hosts or in containers often does not have,
while it may already run MinIO. The calls and their promises are the folder store's
(`PayloadStore`, held by tests/contract/test_payload_store_contract.py against both):

* objects are named `<prefix><d[:2]>/<d>` by the SHA-256 `d` of their bytes, computed here on
  the way in (never trusted from a caller); storing the same bytes twice is a no-op;
* an upload is spooled to a local temporary file while it is hashed (the name is not known
  before the last byte), then sent with boto3's managed multipart transfer, so memory stays at
  a few chunks whatever the size; an interrupted upload leaves no object under a payload's
  name (S3 makes an object visible only when its upload completes) — only a multipart upload,
  which `sweep` aborts once it is older than the retention;
* reads are verified against the digest and the size as they stream: `PayloadMissing` before
  the first chunk, `PayloadCorrupt` after the last one;
* a bucket that cannot be reached (network, credentials, a 5xx) raises
  `PayloadStoreUnavailable`, an `OSError` like a folder store's mount gone: the failure policy
  waits it out through the delay tiers, it never parks a package as missing.

boto3 is an optional dependency (`pip install 'lienthong[s3]'`): the folder store needs none.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adapters.payloadstore import CHUNK, PayloadCorrupt, PayloadMissing, Stored, check_digest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class PayloadStoreUnavailable(OSError):
    """The bucket could not be reached or refused the hub's credentials (no payload is at fault)."""


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where the store lives; the credentials are the hub's settings (none: boto3's own chain,
    e.g. an instance role)."""

    endpoint: str
    bucket: str
    prefix: str = "lienthong/payloads/"
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None

    def client(self) -> S3Client:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as missing:  # the operator chose s3 on an install without the extra
            raise RuntimeError("LIENTHONG_PAYLOAD_STORE=s3 needs boto3: pip install 'lienthong[s3]'") from missing
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                        s3={"addressing_style": "path"})  # MinIO and most self-hosted stores: path style
        return boto3.client("s3", endpoint_url=self.endpoint or None, region_name=self.region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.secret_key,
                            config=config)


def _error_code(exc: BaseException) -> str:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class S3PayloadStore:
    """`PayloadStore` on a bucket. `client` is a boto3 S3 client (`S3Location.client()`)."""

    name = "s3"

    def __init__(self, client: S3Client, bucket: str, prefix: str = "lienthong/payloads/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    @classmethod
    def at(cls, location: S3Location) -> S3PayloadStore:
        return cls(location.client(), location.bucket, location.prefix)

    def key(self, digest: str) -> str:
        d = check_digest(digest)
        return f"{self.prefix}{d[:2]}/{d}"

    def _unavailable(self, what: str, exc: BaseException) -> PayloadStoreUnavailable:
        # the bucket and the error's class and code: never the credentials, never a signed URL
        code = _error_code(exc)
        return PayloadStoreUnavailable(f"payload store s3://{self.bucket}: {what} failed "
                                       f"({type(exc).__name__}{' ' + code if code else ''})")

    def _size_of(self, digest: str) -> int | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                return None
            raise self._unavailable("head", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("head", exc) from None
        return int(head["ContentLength"])

    def has(self, digest: str, size: int | None = None) -> bool:
        stored = self._size_of(digest)
        return stored is not None and (size is None or stored == size)

    def put(self, data: bytes) -> Stored:
        return self.put_stream([data])

    def put_stream(self, chunks: Iterable[bytes]) -> Stored:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        h = hashlib.sha256()
        size = 0
        with tempfile.TemporaryFile(prefix="lienthong-upload-") as spool:
            for chunk in chunks:
                h.update(chunk)
                size += len(chunk)
                spool.write(chunk)
            digest = h.hexdigest()
            if self._size_of(digest) == size:
                return Stored(digest, size, written=False)
            spool.seek(0)
            try:
                self.client.upload_fileobj(
                    spool, self.bucket, self.key(digest),
                    ExtraArgs={"Metadata": {"sha256": digest}, "ContentType": "application/octet-stream"},
                    Config=_transfer_config(TransferConfig),
                )
            except (ClientError, BotoCoreError) as exc:
                raise self._unavailable("upload", exc) from None
        return Stored(digest, size, written=True)

    def open_verified(self, digest: str, size: int | None = None) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self.key(digest))
        except ClientError as exc:
            if _error_code(exc) in _MISSING:
                raise PayloadMissing(f"payload {digest[:16]}… is not in the store") from None
            raise self._unavailable("read", exc) from None
        except BotoCoreError as exc:
            raise self._unavailable("read", exc) from None
        return self._read(obj["Body"], digest, size)

    def _read(self, body: Any, digest: str, size: int | None) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError

        h = hashlib.sha256()
        n = 0
        try:
            for chunk in body.iter_chunks(CHUNK):
                h.update(chunk)
                n += len(chunk)
                yield chunk
        except BotoCoreError as exc:  # the connection dropped mid-read: the bucket, not the payload
            raise self._unavailable("read", exc) from None
        finally:
            body.close()
        if h.hexdigest() != digest or (size is not None and n != size):
            raise PayloadCorrupt(f"payload {digest[:16]}… does not match its digest ({n} bytes read)")

    def read_verified(self, digest: str, size: int | None = None) -> bytes:
        return b"".join(self.open_verified(digest, size))

    def sweep(self, still_needed: Callable[[str], bool], retention_s: float, now: float | None = None) -> list[str]:
        """As the folder store's: payloads no recipient needs, stored longer ago than
        `retention_s`, are removed (their digests returned); unfinished multipart uploads older
        than the retention are aborted."""
        from botocore.exceptions import BotoCoreError, ClientError

        cutoff = (time.time() if now is None else now) - retention_s
        removed: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    digest = key.rsplit("/", 1)[-1]
                    if not _is_digest(digest) or _epoch(obj["LastModified"]) > cutoff or still_needed(digest):
                        continue
                    self.client.delete_object(Bucket=self.bucket, Key=key)
                    removed.append(digest)
            uploads = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=self.prefix)
            for up in uploads.get("Uploads", []):
                if _epoch(up["Initiated"]) <= cutoff:
                    self.client.abort_multipart_upload(Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"])
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("sweep", exc) from None
        return removed


def _transfer_config(kind: Any) -> Any:
    """boto3's multipart transfer with memory bounded: parts are read into memory before they
    are sent (s3transfer's default keeps ten 8 MiB parts: 80 MB more at peak), here two."""
    config = kind(multipart_threshold=8 * CHUNK, multipart_chunksize=8 * CHUNK, max_concurrency=2)
    config.max_in_memory_upload_chunks = 2  # s3transfer's own setting, not in boto3's constructor
    return config


def _is_digest(name: str) -> bool:
    try:
        check_digest(name)
    except ValueError:
        return False
    return True


def _epoch(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()
