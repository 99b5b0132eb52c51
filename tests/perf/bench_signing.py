"""Benchmark: verification of a stream of ~1 MB PDFs signed by 20 recurring signers (issue 12).

    .venv/bin/python -m tests.perf.bench_signing [--seconds 5] [--rounds 2] [--docs 20] [--jobs 60]
                                                 [--revoked 0]

The stream: `--docs` distinct 1 MB PDFs, each signed by one of 10 persons and then one of 10
organizations (20 signers, all under the test PKI's intermediate), cycled.  `--revoked N` pads
the intermediate's CRL with N revoked serials (a real CA's CRL is long; pyhanko walks it for
every signature, the cache once per signer).

1. Per core — documents per CPU second of the benchmark process (time.process_time), in
   interleaved rounds so what load does to caches hits every side alike:
   * pyHanko alone — `validate_pdf_signature` on every signature, a fresh offline
     `ValidationContext` from the same `TrustConfig` each time (what the hub did before);
   * pyHanko with one context shared by the whole stream (pyhanko's own memo; not usable in the
     hub: it pins the validation time and collects every document's certificates) — for reference;
   * lienthong `PackageVerifier`, cache warm (the whole verdict: unwrap, every signature,
     classification) — goal >= 2x pyHanko alone;
   * the same, cache warm but without signing.speedups (pyhanko's hex-string reader, asn1crypto's
     name preparation): what the cache alone gives;
   * the same, cache cold (a new cache per document: every path validated).
2. `VerificationStage` with 2 worker processes against 1, caches warm (bytes pickled to the
   workers, as the router does).  Goal: >= 1.7x.

The machine is shared: the load average is printed with the figures; read them together.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import wait
from dataclasses import dataclass, replace
from pathlib import Path

import psutil
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from signing.chaincache import CacheCounts, ChainCache
from signing.inputs import PackageFacts
from signing.pades import PadesVerifier, quiet_library_logs
from signing.stage import VerificationStage
from signing.testing import pki as testpki
from signing.testing.pdfsign import sign_person_then_org
from signing.trust import SIGNING_KEY_USAGE, TrustConfig
from signing.verdict import Verdict
from signing.verifier import PackageVerifier
from tests.support.pki import blob

PERSONS = 10
ORGANS = 10


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load avg {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def _rate(step: Callable[[], object], seconds: float) -> float:
    """Documents per CPU second of this process: per core, whatever else the machine runs
    (the wall clock would count the time other processes held the core)."""
    n, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    return n / (time.process_time() - cpu)


def _stream(pki: testpki.TestPki, docs: int) -> list[tuple[bytes, PackageFacts]]:
    persons = [pki.issue(f"bench-person-{i}", f"Nguyễn Văn Thử {i}", testpki.ORGAN_NGHE_AN[1]) for i in range(PERSONS)]
    organs = [
        pki.issue(f"bench-organ-{i}", f"Cơ quan thử {i}", f"Cơ quan thử {i}", f"000.00.{i:02d}.H41", organizational=True)
        for i in range(ORGANS)
    ]
    out = []
    for n in range(docs):
        i, j = n % PERSONS, (n * 3) % ORGANS
        person, organ = persons[i], organs[j]
        pdf = testpki.minimal_pdf(f"Cong van {n}/UBND-VP", filler_bytes=1_000_000)
        data = sign_person_then_org(
            pdf,
            (person.key_pem, person.cert_pem + person.chain_pem),
            (organ.key_pem, organ.cert_pem + organ.chain_pem),
        )
        out.append((data, PackageFacts(f"Nguyễn Văn Thử {i}", f"000.00.{j:02d}.H41", f"Cơ quan thử {j}", (blob(data),))))
    return out


def _pyhanko(data: bytes, context: Callable[[], ValidationContext]) -> None:
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    for sig in reader.embedded_signatures:
        status = validate_pdf_signature(sig, signer_validation_context=context(), key_usage_settings=SIGNING_KEY_USAGE)
        assert status.bottom_line


def _cycle(stream: list[tuple[bytes, PackageFacts]], fn: Callable[[bytes, PackageFacts], object]) -> Callable[[], None]:
    it: Iterator[tuple[bytes, PackageFacts]] = itertools.cycle(stream)

    def step() -> None:
        data, facts = next(it)
        fn(data, facts)

    return step


def _children_cpu() -> float:
    return sum(sum(c.cpu_times()[:2]) for c in psutil.Process().children(recursive=True))


@dataclass(frozen=True)
class PoolRun:
    rate: float  # documents per second (wall clock)
    cores: float  # CPU cores the workers got during the measurement
    worker_ms: float  # worker CPU per document
    parent_ms: float  # this process's CPU per document (pickling 1 MB out, the verdict back)
    counts: CacheCounts


def _pool_rate(trust: TrustConfig, workers: int, stream: list[tuple[bytes, PackageFacts]], jobs: int) -> PoolRun:
    with VerificationStage(trust, workers=workers) as stage:
        wait([stage.submit(None, f) for _ in range(workers) for _d, f in stream])  # spawn, imports, warm caches
        cpu0, own0, start = _children_cpu(), time.process_time(), time.perf_counter()
        futures = [stage.submit(None, stream[i % len(stream)][1]) for i in range(jobs)]
        wait(futures)
        elapsed = time.perf_counter() - start
        worker_cpu, own_cpu = _children_cpu() - cpu0, time.process_time() - own0
        results = [f.result() for f in futures]
        assert all(r.verdict.verdict is Verdict.SIGNED for r in results)
        counts = CacheCounts(sum(r.cache.hits for r in results), sum(r.cache.misses for r in results))
    return PoolRun(jobs / elapsed, worker_cpu / elapsed, worker_cpu / jobs * 1e3, own_cpu / jobs * 1e3, counts)


def _rounds(label: str, values: list[float]) -> str:
    return f"{label:<52} {max(values):6.2f} docs/CPU-s  (rounds: {', '.join(f'{x:.2f}' for x in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring time per side and round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds for the per-core comparison")
    parser.add_argument("--docs", type=int, default=20, help="distinct documents in the stream")
    parser.add_argument("--jobs", type=int, default=60, help="documents per pool measurement")
    parser.add_argument("--revoked", type=int, default=0, help="extra revoked serials in the intermediate's CRL")
    args = parser.parse_args()
    quiet_library_logs()

    with tempfile.TemporaryDirectory() as tmp:
        pki = testpki.generate()
        trust = TrustConfig.from_dir(pki.write(Path(tmp)))
        if args.revoked:
            trust = replace(trust, crls=(pki.crl_revoking(extra_serials=args.revoked), *trust.crls[1:]))
        stream = _stream(pki, args.docs)
        size = sum(len(d) for d, _f in stream) / len(stream)
        print(
            f"stream: {len(stream)} documents of {size / 1e6:.2f} MB, 2 signatures each, "
            f"{PERSONS} persons + {ORGANS} organizations; intermediate CRL with "
            f"{args.revoked + 1} revoked serials"
        )
        warm = PackageVerifier(trust, documents=PadesVerifier(trust))
        warm_plain = PackageVerifier(trust, documents=PadesVerifier(trust, speedups=False))
        for _data, facts in stream:
            assert warm.verify(None, facts).verdict is Verdict.SIGNED
            assert warm_plain.verify(None, facts).verdict is Verdict.SIGNED
        shared = trust.validation_context()

        def cold(_data: bytes, facts: PackageFacts) -> object:
            return PackageVerifier(trust, documents=PadesVerifier(trust, ChainCache())).verify(None, facts)

        sides: dict[str, tuple[Callable[[], None], list[float]]] = {
            "pyHanko alone (fresh context per signature)": (
                _cycle(stream, lambda d, _f: _pyhanko(d, trust.validation_context)), []),
            "pyHanko, one context for the whole stream": (_cycle(stream, lambda d, _f: _pyhanko(d, lambda: shared)), []),
            "lienthong PackageVerifier, cache warm": (_cycle(stream, lambda _d, f: warm.verify(None, f)), []),
            "lienthong, cache warm, without signing.speedups": (
                _cycle(stream, lambda _d, f: warm_plain.verify(None, f)), []),
            "lienthong, cache cold (new cache per document)": (_cycle(stream, cold), []),
        }
        print(f"before: {_load()}")
        for _ in range(args.rounds):
            for step, values in sides.values():
                values.append(_rate(step, args.seconds))
        for label, (_step, values) in sides.items():
            print(_rounds(label, values))
        alone = max(sides["pyHanko alone (fresh context per signature)"][1])
        ours = max(sides["lienthong PackageVerifier, cache warm"][1])
        cache_only = max(sides["lienthong, cache warm, without signing.speedups"][1])
        print(f"warm / pyHanko alone: {ours / alone:.2f}x  (goal >= 2x; the cache alone: {cache_only / alone:.2f}x)")
        print(f"after per-core runs: {_load()}")

        one, two = _pool_rate(trust, 1, stream, args.jobs), _pool_rate(trust, 2, stream, args.jobs)
        for n, run in ((1, one), (2, two)):
            print(
                f"VerificationStage {n} worker{'s' if n > 1 else ' '}: {run.rate:6.2f} docs/s  "
                f"(workers used {run.cores:.2f} cores, {run.worker_ms:.1f} ms CPU per document, this process "
                f"{run.parent_ms:.1f} ms; path lookups {run.counts.hits} hits, {run.counts.misses} misses)"
            )
        print(f"speed-up 2 vs 1: {two.rate / one.rate:.2f}x  (goal >= 1.7x)")
        print(f"after: {_load()}")


if __name__ == "__main__":
    main()
