"""Test-only tooling: a test PKI mirroring the Government CA and PAdES signing of test PDFs.

Used by the tests, the benchmarks and `lienthong pki`/`sign` for demos; never by the hub itself."""
