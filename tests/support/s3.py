"""An S3-compatible object store on loopback for the payload store's tests: moto's S3 server
(the `moto[server]` package), a real HTTP endpoint that boto3 signs requests to and streams
from, as it would MinIO. One server per test session; each test gets its own bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from adapters.payloadstore_s3 import S3Location, S3PayloadStore

ACCESS_KEY, SECRET_KEY = "lienthong-test", "lienthong-test-secret-0123456789"


@dataclass(frozen=True, slots=True)
class Bucket:
    location: S3Location

    @property
    def endpoint(self) -> str:
        return self.location.endpoint

    def store(self) -> S3PayloadStore:
        return S3PayloadStore.at(self.location)

    def settings(self) -> dict[str, object]:
        """The hub's settings that point at this bucket (LIENTHONG_PAYLOAD_STORE=s3 …)."""
        loc = self.location
        return {"payload_store": "s3", "payload_s3_endpoint": loc.endpoint, "payload_s3_bucket": loc.bucket,
                "payload_s3_prefix": loc.prefix, "payload_s3_access_key": loc.access_key,
                "payload_s3_secret_key": loc.secret_key}


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> Iterator[Bucket]:
    location = S3Location(s3_endpoint, f"lt-{uuid.uuid4().hex[:12]}", prefix="hub/payloads/",
                          access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    client = location.client()
    client.create_bucket(Bucket=location.bucket)
    try:
        yield Bucket(location)
    finally:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=location.bucket, Key=obj["Key"])
        client.delete_bucket(Bucket=location.bucket)
