"""The path cache's own rules: a key holds for its window only, the LRU stays bounded, the
quiet window never spans an instant where an answer can flip."""

from __future__ import annotations

import datetime as dt

import pytest

from signing.chaincache import CacheCounts, ChainCache, ChainKey, ChainResult
from signing.trust import Anchors

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 12, 2, 8, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
H = dt.timedelta(hours=1)


def _key(n: int = 0, snapshot: str = "a") -> ChainKey:
    return ChainKey("pades", bytes([n]) * 32, b"\0" * 32, snapshot, T0.date())


RESULT = ChainResult(None, None, "path", None)


def test_hit_only_inside_the_window_and_for_the_same_key() -> None:
    cache = ChainCache()
    cache.put(_key(), RESULT, (T0 - H, T0 + H))
    assert cache.get(_key(), T0) is RESULT
    assert cache.get(_key(), T0 + 2 * H) is None
    assert cache.get(_key(snapshot="b"), T0) is None
    assert cache.counts == CacheCounts(1, 2)


def test_no_window_means_not_kept() -> None:
    cache = ChainCache()
    cache.put(_key(), RESULT, None)
    assert len(cache) == 0 and cache.get(_key(), T0) is None


def test_bounded_least_recently_used_goes_first() -> None:
    cache = ChainCache(entries=2)
    cache.put(_key(1), RESULT, (T0 - H, T0 + H))
    cache.put(_key(2), RESULT, (T0 - H, T0 + H))
    assert cache.get(_key(1), T0) is RESULT  # 1 is now the most recent
    cache.put(_key(3), RESULT, (T0 - H, T0 + H))
    assert len(cache) == 2
    assert cache.get(_key(2), T0) is None
    assert cache.get(_key(1), T0) is RESULT and cache.get(_key(3), T0) is RESULT


def test_quiet_window_stops_short_of_every_instant() -> None:
    anchors = Anchors((), (), (), instants=(T0 - 5 * H, T0 + 3 * H))
    extra = (T0 - H, T0 + 2 * H)  # the signer's notBefore / notAfter
    assert anchors.quiet_window(T0, extra, 2 * S) == (T0 - H + 2 * S, T0 + 2 * H - 2 * S)
    assert anchors.quiet_window(T0, (), 2 * S) == (T0 - 5 * H + 2 * S, T0 + 3 * H - 2 * S)


def test_no_window_next_to_an_instant() -> None:
    anchors = Anchors((), (), (), instants=(T0 + S,))
    assert anchors.quiet_window(T0, (), 2 * S) is None
    assert anchors.quiet_window(T0, (T0 - S,), 2 * S) is None
