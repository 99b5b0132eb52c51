"""Find the PDFs in an attachment: the bytes themselves, or the entries of a ZIP around them.

The official Java SDK zips every attachment and labels it `application/zip`, and real senders
mislabel content types, so the declared type decides nothing: the magic bytes do.  A ZIP comes
from an untrusted sender: its central directory may lie about sizes, so entries are streamed
with hard caps on the bytes actually produced (total, and relative to the archive's real length).
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

PDF_MAGIC = b"%PDF-"
ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 64
    max_total_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200  # uncompressed bytes per byte of archive


DEFAULT_ZIP_LIMITS = ZipLimits()


@dataclass(frozen=True)
class Unwrapped:
    """`pdfs` are (inner name, bytes).  `error` is set when the container itself is unusable."""

    detected_type: str
    pdfs: tuple[tuple[str, bytes], ...]
    notes: tuple[str, ...] = ()
    error: str | None = None


def is_pdf(data: bytes) -> bool:
    # ISO 32000 lets the header sit anywhere in the first 1024 bytes.
    return PDF_MAGIC in data[:1024]


class _LimitExceeded(Exception):
    pass


def unwrap(name: str, data: bytes, limits: ZipLimits | None = None) -> Unwrapped:
    limits = limits or DEFAULT_ZIP_LIMITS
    # ZIP first: a stored (uncompressed) entry puts "%PDF-" within the archive's first 1024 bytes.
    if not data.startswith(ZIP_MAGIC):
        return Unwrapped("pdf", ((name, data),)) if is_pdf(data) else Unwrapped("other", ())
    try:
        pdfs, notes = _pdfs_in_zip(data, limits)
    except _LimitExceeded as exc:
        return Unwrapped("zip", (), (), f"ZIP limit exceeded: {exc}")
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        return Unwrapped("zip", (), (), f"unreadable ZIP: {type(exc).__name__}: {exc}")
    return Unwrapped("zip", tuple(pdfs), tuple(notes))


def _pdfs_in_zip(data: bytes, limits: ZipLimits) -> tuple[list[tuple[str, bytes]], list[str]]:
    budget = min(limits.max_total_bytes, len(data) * limits.max_ratio)
    produced = 0
    pdfs: list[tuple[str, bytes]] = []
    notes: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > limits.max_entries:
            raise _LimitExceeded(f"{len(infos)} entries > {limits.max_entries}")
        for info in infos:
            if info.flag_bits & 0x1:
                notes.append(f"{info.filename}: encrypted entry not inspected")
                continue
            parts: list[bytes] = []
            with archive.open(info) as entry:
                while chunk := entry.read(_CHUNK):
                    produced += len(chunk)
                    if produced > budget:
                        raise _LimitExceeded(f"more than {budget} bytes uncompressed")
                    parts.append(chunk)
                    if len(parts) == 1 and not is_pdf(chunk):
                        break  # not a PDF: no need to inflate the rest
            body = b"".join(parts)
            if is_pdf(body):
                pdfs.append((info.filename, body))
            else:
                notes.append(f"{info.filename}: not a PDF, not inspected")
    return pdfs, notes
