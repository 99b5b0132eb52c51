"""Builders and hypothesis strategies for edoc/status models and the packages rendered from them.

Other suites use these to make packages on the fly instead of committing fixture files: a model
is the single source of truth, `render_*` turns it into SDK-layout bytes, and big or hostile
variants are derived from those bytes (or streamed to disk) by the tests that need them.
Every generated model is *valid* under `VALIDATION` (fixed clock, secrecy policy off, so random
Vietnamese text that happens to read "MẬT" is not refused): round trips can then go through the
public `parse_package`, not a private builder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from schemas.codes import BussinessDocType, Priority, StatusCode
from schemas.models import (
    Attachment,
    Bussiness,
    BussinessDocumentInfo,
    Digest,
    DocumentCode,
    DocumentType,
    EdocPackage,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    Reference,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusHeader,
    StatusPackage,
    TraceHeader,
    TraceHeaderList,
)
from schemas.payload import detect_type
from schemas.policy import SecretPolicy, ValidationOptions
from schemas.render import render_edoc, render_status

TODAY = date(2026, 1, 15)
VALIDATION = ValidationOptions(today=TODAY, secret=SecretPolicy(enabled=False))

SENDER = "000.00.00.H41"
RECIPIENT = "000.00.13.H41"

# ---------------------------------------------------------------------------------------------
# plain builders
# ---------------------------------------------------------------------------------------------


def organization(organ_id: str, name: str = "Ủy ban nhân dân tỉnh Nghệ An", **fields: Any) -> Organization:
    return Organization(organ_id=organ_id, organ_name=name, **fields)


def attachment_for(content_id: str, data: bytes, name: str = "van-ban.pdf", **fields: Any) -> Attachment:
    """Attachment metadata whose measured fields (size, digest, type, ZIP entries) match `data`."""
    entries = None
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                entries = tuple((i.filename, i.file_size) for i in zf.infolist())
        except zipfile.BadZipFile:
            entries = None  # a corrupt ZIP on purpose: the parser reports it, the model cannot
    return Attachment(
        content_id=content_id,
        attachment_name=name,
        content_type=fields.pop("content_type", "application/pdf"),
        size=len(data),
        digest=Digest(hashlib.sha256(data).hexdigest()),
        detected_type=detect_type(data[:16]),
        zip_entries=entries,
        **fields,
    )


def reference_for(att: Attachment) -> Reference:
    return Reference(
        content_id=att.content_id, content_type=att.content_type,
        description=att.description, attachment_name=att.attachment_name,
    )


def pdf_bytes(size: int, seed: int = 0) -> bytes:
    """Looks like a PDF to `detect_type`; the rest is deterministic filler of the given size."""
    head = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
    body = hashlib.shake_256(seed.to_bytes(8, "big")).digest(max(size - len(head), 0))
    return (head + body)[:size]


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def edoc_model(
    payloads: dict[str, bytes] | None = None,
    *,
    sender: str = SENDER,
    recipients: Iterable[str] = (RECIPIENT,),
    promulgation: date = date(2025, 3, 14),
    number: str = "1234",
    notation: str = "UBND-KGVX",
    subject: str = "Về việc rà soát kết nối trục liên thông văn bản",
    doc_type: BussinessDocType = BussinessDocType.NEW,
    target: str | None = None,
    priority: Priority = Priority.NORMAL,
) -> EdocPackage:
    """A valid edoc model in the shape of the shared samples; attachments follow `payloads`."""
    payloads = payloads if payloads is not None else {"cid:van-ban-1": pdf_bytes(2048)}
    atts = tuple(attachment_for(cid, data, name=f"tep-{i}.pdf") for i, (cid, data) in enumerate(payloads.items(), 1))
    return EdocPackage(
        header=MessageHeader(
            from_=organization(sender, organ_add="Số 03 đường Trường Thi, thành phố Vinh"),
            to=tuple(organization(r, name="Sở Thông tin và Truyền thông") for r in recipients),
            document_id=f"{sender},{promulgation:%Y/%m/%d},{number}/{notation}",
            code=DocumentCode(code_number=number, code_notation=notation),
            promulgation_info=PromulgationInfo(place="Nghệ An", promulgation_date=promulgation),
            document_type=DocumentType(type=1, type_detail=0, type_name="Công văn"),
            subject=subject,
            content=subject,
            signer_info=SignerInfo(competence="TM. ỦY BAN NHÂN DÂN", position="CHỦ TỊCH", full_name="Nguyễn Văn Mẫu"),
            due_date=promulgation + timedelta(days=14),
            other_info=OtherInfo(priority=priority, appendixes=("Danh sách đơn vị",)),
            to_places=("Như trên", "Lưu: VT, KGVX"),
        ),
        trace=TraceHeaderList(
            trace_headers=(TraceHeader(organ_id=sender, timestamp=datetime(2025, 3, 14, 8, 30, 0)),),
            bussiness=Bussiness(
                doc_type=doc_type,
                reason="Văn bản điện tử mới" if doc_type is BussinessDocType.NEW else "Thay đổi văn bản",
                document_id=target,
                paper=0,
            ),
        ),
        references=tuple(reference_for(a) for a in atts),
        attachments=atts,
    )


def edoc_bytes(payloads: dict[str, bytes] | None = None, **kw: Any) -> bytes:
    payloads = payloads if payloads is not None else {"cid:van-ban-1": pdf_bytes(2048)}
    return render_edoc(edoc_model(payloads, **kw), payloads)


def status_model(code: StatusCode = StatusCode.ACCEPTED) -> StatusPackage:
    return StatusPackage(
        header=StatusHeader(
            from_=organization(RECIPIENT, name="Sở Thông tin và Truyền thông"),
            response_for=ResponseFor(
                organ_id=SENDER, code="1234/UBND-KGVX", promulgation_date=date(2025, 3, 14),
                document_id=f"{SENDER},2025/03/14,1234/UBND-KGVX",
            ),
            staff_info=StaffInfo(department="Văn phòng Sở", staff="Ngô Thị Văn Thư"),
            status_code=code,
            description="Văn thư đã tiếp nhận",
            timestamp=datetime(2025, 3, 14, 10, 2, 41),
        )
    )


def status_bytes(code: StatusCode = StatusCode.ACCEPTED) -> bytes:
    return render_status(status_model(code))


def package_of_size(target: int) -> bytes:
    """An edoc package of about `target` bytes: the SDK layout plus one PDF attachment."""
    base = len(edoc_bytes({"cid:van-ban-1": b""}))
    size = max((target - base) * 3 // 4, 16)
    return edoc_bytes({"cid:van-ban-1": pdf_bytes(size)})


# ---------------------------------------------------------------------------------------------
# streamed big packages
# ---------------------------------------------------------------------------------------------

_PLACEHOLDER = b"\x00LIENTHONG-PAYLOAD-PLACEHOLDER\x00"


def split_at_payload(model_payload_cid: str = "cid:van-ban-1") -> tuple[bytes, bytes]:
    """Package bytes before and after the base64 text of its one attachment."""
    payloads = {model_payload_cid: _PLACEHOLDER}
    data = render_edoc(edoc_model(payloads), payloads)
    marker = base64.b64encode(_PLACEHOLDER)
    before, found, after = data.partition(marker)
    assert found, "placeholder not rendered"
    return before, after


def write_package_with_stream(path: Path, chunks: Iterable[bytes], *, raw_base64: bool = False) -> None:
    """Write a package whose attachment text comes from `chunks` without holding it in memory.

    `chunks` are payload bytes (base64-encoded here, each a multiple of 3 but the last), or the
    attachment text itself when `raw_base64` (for garbage and truncation cases).
    """
    before, after = split_at_payload()
    with path.open("wb") as fh:
        fh.write(before)
        for chunk in chunks:
            fh.write(chunk if raw_base64 else base64.b64encode(chunk))
        fh.write(after)


def random_chunks(total: int, chunk: int = 3 * 1024 * 1024, seed: int = 7) -> Iterator[bytes]:
    """`total` pseudo-random bytes (incompressible, so a ZIP check cannot shortcut them)."""
    produced = 0
    counter = seed
    while produced < total:
        n = min(chunk, total - produced)
        block = os.urandom(n) if seed < 0 else hashlib.shake_128(counter.to_bytes(8, "big")).digest(n)
        counter += 1
        produced += n
        yield block


def zip_bomb(inflated: int, name: str = "zeros.bin", *, declared: int | None = None) -> bytes:
    """A real ZIP whose one entry inflates to `inflated` zero bytes (a multiple of 1 MiB, < 4 GiB).

    Built from one pre-compressed 1 MiB deflate block repeated (each ends on a full flush, so the
    copies concatenate into one valid stream): a 1 GiB bomb costs a CRC pass, not a compression.
    `declared` makes the local header and central directory lie about the inflated size.
    """
    mib = 1 << 20
    assert inflated % mib == 0 and 0 < inflated < 1 << 32
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(mib)) + comp.flush(zlib.Z_FULL_FLUSH)
    stream = block * (inflated // mib) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    zero = bytes(mib)
    for _ in range(inflated // mib):
        crc = zlib.crc32(zero, crc)
    size = inflated if declared is None else declared
    raw_name = name.encode()
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), size, len(raw_name), 0)
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(stream), size, len(raw_name), 0, 0, 0, 0, 0, 0
    ) + raw_name
    offset = len(local) + len(raw_name) + len(stream)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), offset, 0)
    return local + raw_name + stream + central + end


def lying_zip(inflated: int, declared: int, name: str = "report.pdf") -> bytes:
    """A ZIP claiming `declared` bytes for an entry that inflates to `inflated`: what a check of
    declared sizes alone would trust."""
    return zip_bomb(inflated, name, declared=declared)


# ---------------------------------------------------------------------------------------------
# hypothesis strategies
# ---------------------------------------------------------------------------------------------

VI_LETTERS = (
    "aàáạảãâầấậẩẫăằắặẳẵeèéẹẻẽêềếệểễiìíịỉĩoòóọỏõôồốộổỗơờớợởỡuùúụủũưừứựửữyỳýỵỷỹđ"
    "AÀÁẠẢÃÂẦẤẬẨẪĂẰẮẶẲẴEÈÉẸẺẼÊỀẾỆỂỄIÌÍỊỈĨOÒÓỌỎÕÔỒỐỘỔỖƠỜỚỢỞỠUÙÚỤỦŨƯỪỨỰỬỮYỲÝỴỶỸĐ"
    "bcdghklmnpqrstvx"
)
XML_SPECIAL = "<>&\"'"
TEXT_ALPHABET = VI_LETTERS + XML_SPECIAL + "0123456789 ,.;:-_/()[]{}%#@!?+=*\n\t\u0301\u0323"


def texts(max_size: int = 40, *, allow_empty: bool = True) -> st.SearchStrategy[str]:
    """Vietnamese text with XML-special characters; trimmed, as the reader trims leaf values."""
    strategy = st.text(TEXT_ALPHABET, max_size=max_size).map(str.strip)
    return strategy if allow_empty else strategy.filter(bool)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


organ_ids = st.builds(
    lambda a, b, c, letter, n: f"{a:03d}.{b:02d}.{c:02d}.{letter}{n:02d}",
    st.integers(0, 999), st.integers(0, 99), st.integers(0, 99),
    st.sampled_from("ABCDEFGHKLMNPQRSTVXYZ"), st.integers(0, 99),
)
dates = st.dates(min_value=date(1990, 1, 1), max_value=TODAY)
timestamps = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2026, 1, 15, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)
small_ints = st.integers(0, 999_999_999)
notations = st.text("ABCDĐGHKLMNPQTUVX-", min_size=1, max_size=12).map(lambda s: s.strip("-") or "UBND")
doc_ids = st.builds(lambda o, d, n, t: f"{o},{d:%Y/%m/%d},{n}/{t}", organ_ids, dates, st.integers(1, 99999), notations)


def organizations(organ: st.SearchStrategy[str] = organ_ids) -> st.SearchStrategy[Organization]:
    return st.builds(
        Organization, organ_id=organ, organization_in_charge=texts(), organ_name=texts(), organ_add=texts(),
        email=texts(20), telephone=texts(12), fax=texts(12), website=texts(20),
    )


response_fors = st.builds(
    ResponseFor, organ_id=organ_ids,
    code=st.builds(lambda n, t: f"{n}/{t}", st.integers(1, 9999), notations),
    promulgation_date=dates, document_id=doc_ids,
)
staff_infos = st.builds(StaffInfo, department=opt(texts()), staff=opt(texts()), mobile=opt(texts(12)), email=opt(texts(20)))


@st.composite
def bussinesses(draw: st.DrawFn) -> Bussiness:
    kind = draw(st.sampled_from(BussinessDocType))
    target = draw(doc_ids) if kind is not BussinessDocType.NEW else draw(opt(doc_ids | st.just("")))
    return Bussiness(
        doc_type=kind,
        reason=draw(texts()),
        document_id=target,
        paper=draw(opt(st.integers(0, 1))),
        staff_info=draw(opt(staff_infos)),
        document_info=draw(opt(st.builds(
            BussinessDocumentInfo,
            document_info=st.sampled_from(["0", "1"]), document_receiver=st.sampled_from(["0", "1"]),
            receivers=opt(st.lists(st.builds(Receiver, organ_id=organ_ids, receiver_type=st.integers(0, 1)), max_size=3)
                          .map(tuple)),
        ))),
        replacements=draw(opt(st.lists(
            st.builds(ReplacementInfo, document_id=doc_ids, organ_ids=st.lists(organ_ids, max_size=3).map(tuple)),
            max_size=2,
        ).map(tuple))),
    )


trace_lists = st.builds(
    TraceHeaderList,
    trace_headers=st.lists(st.builds(TraceHeader, organ_id=organ_ids, timestamp=timestamps), max_size=3).map(tuple),
    bussiness=opt(bussinesses()),
)
other_infos = st.builds(
    OtherInfo, priority=st.sampled_from(Priority), sphere_of_promulgation=opt(texts()),
    typer_notation=opt(texts(10)), promulgation_amount=opt(small_ints), page_amount=opt(small_ints),
    direction=opt(st.booleans()), appendixes=opt(st.lists(texts(), max_size=3).map(tuple)),
)


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, bytes]:
    """0–3 attachments with distinct ContentIds (with or without `cid:`), some of them ZIPs."""
    ids = draw(st.lists(st.uuids().map(str), max_size=3, unique=True))
    out: dict[str, bytes] = {}
    for i, uid in enumerate(ids):
        data = draw(st.binary(max_size=300).filter(lambda b: not b.startswith(b"PK\x03\x04")))
        if draw(st.booleans()) and i % 2:
            data = zip_bytes({f"{uid}.doc": data})
        out[draw(st.sampled_from(["cid:", ""])) + uid] = data
    return out


@st.composite
def edoc_packages(draw: st.DrawFn) -> tuple[EdocPackage, dict[str, bytes]]:
    """A valid edoc model with its attachment bytes: what `render_edoc` takes."""
    sender = draw(organ_ids)
    prom = draw(dates)
    number = str(draw(st.integers(1, 99999)))
    notation = draw(notations)
    data = draw(payloads())
    atts = tuple(
        attachment_for(
            cid, blob, name=draw(texts(30)), description=draw(texts()),
            content_type=draw(st.sampled_from(["application/pdf", "application/zip", ""])),
            format=draw(opt(texts(8))),
        )
        for cid, blob in data.items()
    )
    header = MessageHeader(
        from_=draw(organizations(st.just(sender))),
        to=tuple(draw(st.lists(organizations(), min_size=1, max_size=4, unique_by=lambda o: o.organ_id))),
        document_id=f"{sender},{prom:%Y/%m/%d},{number}/{notation}",
        code=DocumentCode(code_number=number, code_notation=notation),
        promulgation_info=PromulgationInfo(place=draw(texts()), promulgation_date=prom),
        document_type=DocumentType(
            type=draw(st.integers(0, 20)), type_detail=draw(opt(st.integers(0, 99))), type_name=draw(texts()),
        ),
        subject=draw(texts(120)),
        content=draw(texts(120)),
        signer_info=SignerInfo(competence=draw(texts()), position=draw(texts()), full_name=draw(texts())),
        due_date=draw(opt(st.dates(min_value=prom, max_value=date(2030, 12, 31)))),
        other_info=draw(other_infos),
        response_for=tuple(draw(st.lists(response_fors, max_size=3))),
        steering_type=draw(opt(st.integers(0, 9))),
        to_places=draw(opt(st.lists(texts(), max_size=3).map(tuple))),
    )
    pkg = EdocPackage(
        header=header,
        trace=draw(trace_lists),
        references=tuple(reference_for(a) for a in atts),
        attachments=atts,
    )
    return pkg, data


status_codes = st.sampled_from(list(StatusCode)) | st.integers(0, 99).map(lambda n: StatusCode(f"{n:02d}"))


status_packages = st.builds(
    StatusPackage,
    header=st.builds(
        StatusHeader, from_=organizations(), response_for=response_fors, staff_info=opt(staff_infos),
        status_code=status_codes, description=texts(80), timestamp=timestamps,
    ),
    trace=opt(trace_lists),
)


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """`data` with a few byte flips, truncations, insertions or deletions."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "splice"]))
        pos = draw(st.integers(0, max(len(out) - 1, 0)))
        if op == "flip" and out:
            out[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(INTERESTING))
        elif op == "delete":
            del out[pos : pos + draw(st.integers(1, 64))]
        elif op == "splice" and out:
            start = draw(st.integers(0, len(out) - 1))
            out[pos:pos] = out[start : start + draw(st.integers(1, 200))]
    return bytes(out)


INTERESTING = [
    b"<", b">", b"&", b"&xxe;", b"<!DOCTYPE a>", b"<!--", b"-->", b"<![CDATA[", b"]]>", b"<?pi?>",
    b"</ContentTransferEncoded>", b"<ContentTransferEncoded>", b"=", b"==", b"\xff", b"\xc3", b"\x00",
    b"+ADw-", b"&#13;", b"&#x0;", b"\r\n", b"xmlns:edXML='urn:x'", b'encoding="UTF-7"',
]
