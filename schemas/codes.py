"""Code lists of QCVN 102:2016 as used on the axis (domain.md §5, §2.2)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final


class PackageKind(StrEnum):
    """The two kinds of edXML package (domain.md §1–2): one type for every room that names them."""

    EDOC = "edoc"
    STATUS = "status"


class Priority(IntEnum):
    """OtherInfo/Priority. Drives the AMQP priority (see `amqp_priority`)."""

    NORMAL = 0  # thường
    URGENT = 1  # khẩn
    VERY_URGENT = 2  # thượng khẩn
    EXPRESS = 3  # hỏa tốc
    EXPRESS_TIMED = 4  # hỏa tốc hẹn giờ

    @property
    def vi(self) -> str:
        return PRIORITY_VI[self]

    @property
    def amqp_priority(self) -> int:
        return {0: 0, 1: 3, 2: 5, 3: 8, 4: 9}[int(self)]


PRIORITY_VI: Final = {
    Priority.NORMAL: "Thường",
    Priority.URGENT: "Khẩn",
    Priority.VERY_URGENT: "Thượng khẩn",
    Priority.EXPRESS: "Hỏa tốc",
    Priority.EXPRESS_TIMED: "Hỏa tốc hẹn giờ",
}


class BussinessDocType(IntEnum):
    """TraceHeaderList/Bussiness/BussinessDocType (spelled with double s in the standard)."""

    NEW = 0
    REVOKE = 1
    UPDATE = 2
    REPLACE = 3

    @property
    def vi(self) -> str:
        return ("Văn bản mới", "Thu hồi", "Cập nhật", "Thay thế")[int(self)]


KNOWN_STATUS: Final[dict[str, tuple[str, str]]] = {
    "01": ("Đã đến", "arrived"),
    "02": ("Từ chối tiếp nhận", "rejected"),
    "03": ("Đã tiếp nhận", "accepted"),
    "04": ("Phân công", "assigned"),
    "05": ("Đang xử lý", "processing"),
    "06": ("Hoàn thành", "done"),
    "13": ("Lấy lại", "withdraw request"),
    "15": ("Đồng ý lấy lại/cập nhật", "withdraw/update accepted"),
    "16": ("Từ chối lấy lại/cập nhật", "withdraw/update refused"),
}


class StatusCode(StrEnum):
    """Business status of a document at a recipient (domain.md §2.2).

    Codes outside the nine in use (07–12, 14, …) become pseudo-members named UNKNOWN_NN:
    the hub forwards what it does not understand instead of dropping it.
    """

    ARRIVED = "01"
    REJECTED = "02"
    ACCEPTED = "03"
    ASSIGNED = "04"
    PROCESSING = "05"
    DONE = "06"
    WITHDRAW_REQUEST = "13"
    CHANGE_ACCEPTED = "15"
    CHANGE_REFUSED = "16"

    @classmethod
    def _missing_(cls, value: object) -> StatusCode | None:
        if isinstance(value, str) and len(value) == 2 and value.isascii() and value.isdigit():
            member = str.__new__(cls, value)
            member._name_ = f"UNKNOWN_{value}"
            member._value_ = value
            cls._value2member_map_[value] = member
            return member
        return None

    @property
    def known(self) -> bool:
        return self.value in KNOWN_STATUS

    @property
    def vi(self) -> str:
        return KNOWN_STATUS.get(self.value, ("Mã không xác định", "unknown"))[0]

    @property
    def en(self) -> str:
        return KNOWN_STATUS.get(self.value, ("Mã không xác định", "unknown"))[1]
