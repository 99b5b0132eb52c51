"""Parser limits. Defaults fit real traffic with a wide margin; every one is configurable."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MiB = 1024 * 1024


class ParseLimits(BaseModel):
    """Bounds that keep one hostile package from taking the hub's memory or time.

    Markup (everything except attachment payloads) is small in every real package; bounding
    it separately lets attachments be large while a 20 MB text node in a header is refused
    before libxml2 ever builds it.
    """

    model_config = ConfigDict(frozen=True)

    max_package_bytes: int = Field(160 * MiB, gt=0)
    max_markup_bytes: int = Field(4 * MiB, gt=0)
    max_depth: int = Field(32, gt=0, le=255)
    max_elements: int = Field(20_000, gt=0)
    max_attachments: int = Field(200, gt=0)
    max_attachment_bytes: int = Field(100 * MiB, gt=0)
    max_unzipped_bytes: int = Field(200 * MiB, gt=0)
    max_zip_ratio: int = Field(200, gt=0)
    memory_spool_bytes: int = Field(1 * MiB, ge=0)
