"""Benchmark: verification throughput of a signed ~1 MB PDF (two signatures: person + organization).

    .venv/bin/python -m tests.perf.bench_signing [--seconds 8] [--jobs 40]

1. Per core: our `PackageVerifier` (unwrap, every signature, classification, verdict) against
   calling pyhanko's `validate_pdf_signature` directly on every signature with the same offline
   `ValidationContext` settings, interleaved in the same run so machine load hits both alike.
   Goal: ours >= 85 % of direct.
2. `VerificationStage` with 2 worker processes against 1 (bytes pickled to the workers, as the
   router does).  Goal: >= 1.7x.  The machine is shared: the load average is printed with the
   figures; read them together.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import wait
from pathlib import Path

import psutil
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature

from signing.inputs import PackageFacts
from signing.pades import quiet_library_logs
from signing.stage import VerificationStage
from signing.testing import pki as testpki
from signing.testing.pdfsign import sign_person_then_org
from signing.trust import SIGNING_KEY_USAGE, TrustConfig
from signing.verdict import Verdict
from signing.verifier import PackageVerifier
from tests.support.pki import ORGAN_ID, ORGAN_NAME, SIGNER, blob, facts


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load avg {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        n += 1
    return n / elapsed


def _direct(data: bytes, trust: TrustConfig) -> None:
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    for sig in reader.embedded_signatures:
        status = validate_pdf_signature(
            sig, signer_validation_context=trust.validation_context(), key_usage_settings=SIGNING_KEY_USAGE
        )
        assert status.bottom_line


def _children_cpu() -> float:
    return sum(sum(c.cpu_times()[:2]) for c in psutil.Process().children(recursive=True))


def _pool_rate(trust: TrustConfig, workers: int, data_facts: PackageFacts, jobs: int) -> tuple[float, float]:
    """(documents per second, CPU cores the workers actually got during the measurement)."""
    with VerificationStage(trust, workers=workers) as stage:
        wait([stage.submit(None, data_facts) for _ in range(workers * 2)])  # warm-up: spawn + imports
        cpu0, start = _children_cpu(), time.perf_counter()
        futures = [stage.submit(None, data_facts) for _ in range(jobs)]
        wait(futures)
        elapsed = time.perf_counter() - start
        cores = (_children_cpu() - cpu0) / elapsed
        assert all(f.result().verdict is Verdict.SIGNED for f in futures)
    return jobs / elapsed, cores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time per side and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds for the per-core comparison")
    parser.add_argument("--jobs", type=int, default=40, help="documents per pool measurement")
    args = parser.parse_args()
    quiet_library_logs()

    with tempfile.TemporaryDirectory() as tmp:
        pki = testpki.generate()
        trust = TrustConfig.from_dir(pki.write(Path(tmp)))
        pdf = testpki.minimal_pdf("Bench 1 MB", filler_bytes=1_000_000)
        person, org = pki["nguyen-van-mau"], pki["org-nghe-an"]
        data = sign_person_then_org(
            pdf, (person.key_pem, person.cert_pem + person.chain_pem), (org.key_pem, org.cert_pem + org.chain_pem)
        )
        data_facts = facts(blob(data))
        verifier = PackageVerifier(trust)
        assert verifier.verify(None, data_facts).verdict is Verdict.SIGNED
        print(f"document: {len(data) / 1e6:.2f} MB, 2 signatures; signer {SIGNER}, organ {ORGAN_ID} {ORGAN_NAME}")
        print(f"before: {_load()}")

        ours, direct = [], []
        for _ in range(args.rounds):
            direct.append(_rate(lambda: _direct(data, trust), args.seconds))
            ours.append(_rate(lambda: verifier.verify(None, data_facts), args.seconds))
        d, o = max(direct), max(ours)
        print(
            f"direct pyhanko validate_pdf_signature: {d:6.2f} docs/s  (rounds: {', '.join(f'{x:.2f}' for x in direct)})"
        )
        print(f"lienthong PackageVerifier:            {o:6.2f} docs/s  (rounds: {', '.join(f'{x:.2f}' for x in ours)})")
        print(f"ratio ours/direct: {o / d:.1%}  (goal >= 85%)")
        print(f"after per-core runs: {_load()}")

        one, one_cores = _pool_rate(trust, 1, data_facts, args.jobs)
        two, two_cores = _pool_rate(trust, 2, data_facts, args.jobs)
        print(f"VerificationStage 1 worker:  {one:6.2f} docs/s  (workers used {one_cores:.2f} cores)")
        print(f"VerificationStage 2 workers: {two:6.2f} docs/s  (workers used {two_cores:.2f} cores)")
        print(f"speed-up 2 vs 1: {two / one:.2f}x  (goal >= 1.7x)")
        print(f"after: {_load()}")


if __name__ == "__main__":
    main()
