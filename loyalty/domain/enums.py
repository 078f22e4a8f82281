"""The closed sets of values of the loyalty domain (stored as their string values)."""

from enum import StrEnum


class UserStatus(StrEnum):
    active = "active"
    blocked = "blocked"
    deleted = "deleted"


class DiscountType(StrEnum):
    percent = "percent"
    amount = "amount"
    fixed_price = "fixed_price"
    trial = "trial"


class Audience(StrEnum):
    everyone = "everyone"
    assigned = "assigned"


class PurchaseStatus(StrEnum):
    pending = "pending"
    paid = "paid"
    cancelled = "cancelled"


class PurchaseSource(StrEnum):
    user = "user"
    operator = "operator"
