"""The vendor SDK's recorded requests (../shared/axis-captures/), parsed byte for byte."""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.services import ROOT

CAPTURES = ROOT.parent / "shared" / "axis-captures"
SYSTEM_ID = "000.00.00.H41"
SECRET = "test-secret-123"


@dataclass(frozen=True)
class Capture:
    name: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    @property
    def operation(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def header(self, name: str) -> str:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) == 1, (name, values)
        return values[0]


def load(name: str) -> Capture:
    raw = (CAPTURES / name).read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, path, _ = request_line.split(" ")
    headers = [(k, v) for k, _, v in (line.partition(": ") for line in lines)]
    return Capture(name, method, path, headers, body, raw)


def all_captures() -> list[Capture]:
    return [load(p.name) for p in sorted(CAPTURES.glob("*.http"))]
