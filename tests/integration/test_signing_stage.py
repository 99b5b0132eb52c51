"""The verification stage runs in real worker processes and returns the same values as in-process."""

from __future__ import annotations

from concurrent.futures import wait

import pytest

from signing.stage import VerificationStage
from signing.trust import TrustConfig
from signing.verdict import Reason, Verdict
from signing.verifier import PackageVerifier
from tests.support import pki as S
from tests.support.pki import Corpus, new_corpus

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return new_corpus(tmp_path_factory.mktemp("pki"))


def test_two_workers_return_the_in_process_verdicts(corpus: Corpus) -> None:
    trust = TrustConfig.from_dir(corpus.trust_dir)
    inputs = [
        (S.xml_signed(S.package(S.blob(corpus.both)), corpus), S.facts(S.blob(corpus.both))),
        (None, S.facts(S.blob(S.append_text_update(corpus.both)))),
        (None, S.facts(S.blob(corpus.signed("revoked", None)))),
        (None, S.facts(S.blob(corpus.plain_pdf))),
    ]
    with VerificationStage(trust, workers=2) as stage:
        futures = [stage.submit(pkg, facts) for pkg, facts in inputs]
        wait(futures, timeout=120)
        remote = [f.result().verdict for f in futures]
    local = [PackageVerifier(trust).verify(pkg, facts) for pkg, facts in inputs]
    assert remote == local
    assert [(v.verdict, v.reason) for v in remote] == [
        (Verdict.SIGNED, None),
        (Verdict.INVALID, Reason.MODIFIED_AFTER_SIGNING),
        (Verdict.INVALID, Reason.REVOKED),
        (Verdict.UNSIGNED, None),
    ]


def test_stage_rejects_zero_workers(corpus: Corpus) -> None:
    with pytest.raises(ValueError, match="workers"):
        VerificationStage(TrustConfig.from_dir(corpus.trust_dir), workers=0)
