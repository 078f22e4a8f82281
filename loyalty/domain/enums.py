"""The closed sets of values of the loyalty domain (stored as their string values)."""

from enum import StrEnum

# A StrEnum's functional form gives each member its own name as its value.
UserStatus = StrEnum("UserStatus", ["active", "blocked", "deleted"])
DiscountType = StrEnum("DiscountType", ["percent", "amount", "fixed_price", "trial"])
Audience = StrEnum("Audience", ["everyone", "assigned"])
PurchaseStatus = StrEnum("PurchaseStatus", ["pending", "paid", "cancelled"])
PurchaseSource = StrEnum("PurchaseSource", ["user", "operator"])
