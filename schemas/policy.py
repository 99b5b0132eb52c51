"""Configurable validation policy: secret-document markers, limits, the clock.

The standard has no field for classification, yet Decision 28 forbids carrying state secrets
(domain.md §6 rule 2). Agencies mark them "MẬT", "TỐI MẬT", "TUYỆT MẬT"; which fields carry the
marker differs between systems, so the fields and patterns are configuration, not code.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from pydantic import BaseModel, ConfigDict, Field

from schemas.limits import ParseLimits
from schemas.profiles import Profile

_MARKER = r"(TUYỆT MẬT|TỐI MẬT|MẬT)"


class SecretPolicy(BaseModel):
    """field path (relative to MessageHeader) → regex. Patterns are case-sensitive and match
    NFC-normalised text: a marker is written in capitals, while "bảo mật" in running text is not."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "OtherInfo/SphereOfPromulgation": rf"(?<!\w){_MARKER}(?!\w)",
            "Subject": rf"^\W*{_MARKER}(?!\w)",
            "DocumentType/TypeName": rf"(?<!\w){_MARKER}(?!\w)",
        }
    )


#: edXML dates and timestamps are Vietnam local time (UTC+7, no daylight saving), zone-less
#: on the wire. One definition for the whole hub: validation, statuses, mergers, traces.
VIETNAM_OFFSET = timedelta(hours=7)
VIETNAM = timezone(VIETNAM_OFFSET, "ICT")


def vietnam_today() -> date:
    return datetime.now(VIETNAM).date()


class ValidationOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    limits: ParseLimits = ParseLimits()
    secret: SecretPolicy = SecretPolicy()
    tolerant_organ_ids: bool = True
    #: which findings refuse a package (schemas/profiles.py): `default` refuses what is unsafe or
    #: unroutable and warns about the rest; `strict` holds a system to the full QCVN
    profile: Profile = Profile.DEFAULT
    today: date | None = None  # None: today in Vietnam (UTC+7), when validating

    def current_date(self) -> date:
        return self.today or vietnam_today()
