"""What the router does with a verdict, per connected system: require, warn or off.

`require` rejects INVALID and UNSIGNED (status 02 naming the attachment and the sub-reason);
a PARTIALLY_SIGNED document is delivered with a warning, because Decree 30 gives it reduced legal
value, not none, and the province's target is about the *unsigned* share.  `warn` delivers
everything and says why in the status/header; `off` does not look.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from signing.verdict import PackageVerdict, Reason, Verdict


class Policy(StrEnum):
    REQUIRE = "require"
    WARN = "warn"
    OFF = "off"


class Action(StrEnum):
    ACCEPT = "accept"
    ACCEPT_WITH_WARNING = "accept-with-warning"
    REJECT = "reject"


@dataclass(frozen=True)
class Decision:
    action: Action
    verdict: Verdict
    reason: Reason | None
    attachment: str | None
    message_vi: str
    message_en: str

    @property
    def message(self) -> str:
        """Both languages, for a status Description (Vietnamese first: clerks read it)."""
        return f"{self.message_vi} / {self.message_en}" if self.message_vi else ""


REASON_TEXT: dict[Reason, tuple[str, str]] = {
    Reason.INTEGRITY: (
        "nội dung không khớp với chữ ký số (tệp đã bị thay đổi)",
        "content does not match the signature",
    ),
    Reason.MODIFIED_AFTER_SIGNING: ("tệp bị sửa đổi sau khi ký số", "modified after signing"),
    Reason.UNTRUSTED_CHAIN: (
        "chứng thư số không thuộc chuỗi chứng thực tin cậy",
        "certificate does not chain to a trusted root",
    ),
    Reason.EXPIRED: ("chứng thư số đã hết hạn", "certificate expired"),
    Reason.NOT_YET_VALID: ("chứng thư số chưa có hiệu lực", "certificate not yet valid"),
    Reason.REVOKED: ("chứng thư số đã bị thu hồi", "certificate revoked"),
    Reason.KEY_USAGE: (
        "chứng thư số không được phép dùng để ký",
        "certificate key usage does not allow signing",
    ),
    Reason.MALFORMED: ("tệp hoặc chữ ký số bị hỏng, không đọc được", "file or signature is malformed"),
    Reason.SIGNER_MISMATCH: (
        "người ký không khớp với SignerInfo/FullName hoặc cơ quan gửi (From)",
        "signer does not match SignerInfo/FullName or the From organ",
    ),
}

VERDICT_TEXT: dict[Verdict, tuple[str, str]] = {
    Verdict.SIGNED: ("đã ký số (cá nhân và cơ quan)", "signed by the person and the organization"),
    Verdict.PARTIALLY_SIGNED: (
        "chỉ có một trong hai chữ ký số (cá nhân, cơ quan)",
        "only one of the two signatures (person, organization)",
    ),
    Verdict.UNSIGNED: ("văn bản không có chữ ký số", "document is not digitally signed"),
    Verdict.INVALID: ("chữ ký số không hợp lệ", "invalid digital signature"),
}


def describe(verdict: PackageVerdict) -> tuple[str, str]:
    """(Vietnamese, English) one-line explanation naming the attachment and the sub-reason."""
    vi, en = VERDICT_TEXT[verdict.verdict]
    if verdict.reason is not None:
        rvi, ren = REASON_TEXT[verdict.reason]
        vi, en = f"{vi}: {rvi} ({verdict.reason.value})", f"{en}: {ren} ({verdict.reason.value})"
    if verdict.attachment:
        vi = f"Tệp đính kèm «{verdict.attachment}»: {vi}"
        en = f'Attachment "{verdict.attachment}": {en}'
    elif verdict.reason is not None and verdict.xml_signature is not None:
        vi, en = f"Chữ ký XML của gói tin: {vi}", f"Package XML signature: {en}"
    return vi, en


def decide(verdict: PackageVerdict, policy: Policy) -> Decision:
    if policy is Policy.OFF or verdict.verdict is Verdict.SIGNED:
        return Decision(Action.ACCEPT, verdict.verdict, verdict.reason, verdict.attachment, "", "")
    vi, en = describe(verdict)
    if policy is Policy.REQUIRE and verdict.verdict in (Verdict.INVALID, Verdict.UNSIGNED):
        action = Action.REJECT
        vi, en = f"Từ chối tiếp nhận. {vi}", f"Rejected. {en}"
    else:
        action = Action.ACCEPT_WITH_WARNING
        vi, en = f"Cảnh báo chữ ký số. {vi}", f"Signature warning. {en}"
    return Decision(action, verdict.verdict, verdict.reason, verdict.attachment, vi, en)
