"""Which payload store the settings choose (LIENTHONG_PAYLOAD_STORE): one place for every
command — the hub's stages, the axis-compatible API's uploads, `lienthong payloads sweep`."""

from __future__ import annotations

from adapters.payloadstore import FolderPayloadStore, PayloadStore
from router.settings import Settings


def payload_store(settings: Settings) -> PayloadStore:
    if settings.payload_store == "s3":
        from adapters.payloadstore_s3 import S3Location, S3PayloadStore

        secret = settings.payload_s3_secret_key
        return S3PayloadStore.at(S3Location(
            endpoint=settings.payload_s3_endpoint or "", bucket=settings.payload_s3_bucket or "",
            prefix=settings.payload_s3_prefix, region=settings.payload_s3_region,
            access_key=settings.payload_s3_access_key, secret_key=secret.get_secret_value() if secret else None,
        ))
    return FolderPayloadStore(settings.payload_dir)
