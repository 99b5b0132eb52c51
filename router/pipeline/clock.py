"""The hub's one clock: when the hub itself received or decided something.

Stages never read the time themselves and never trust a submitter's AMQP `timestamp` (a DMS can
forge or skew it): the composition root (`router.hub.Hub`) owns a `Clock`, reads it once per
message on receipt, and passes that instant to the stage. Tests inject `fixed_clock`. Legal
days (merger resolution, deadlines) are Vietnam calendar days of that instant: `vietnam_day`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from schemas.policy import VIETNAM

#: Returns a timezone-aware "now".
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """Always `at` (timezone-aware): for tests and replays of a recorded instant."""
    if at.tzinfo is None:
        raise ValueError("a clock's instant must be timezone-aware")
    return lambda: at


def vietnam_day(at: datetime) -> date:
    """The calendar day in Vietnam (UTC+7) at instant `at`: 2025-06-30T18:00Z is 2025-07-01."""
    return at.astimezone(VIETNAM).date()
