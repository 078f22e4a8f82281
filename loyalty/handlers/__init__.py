"""The write side's public API: plain async functions taking validated input and the actor.

    await use_promocode(PromocodeRequest(promocode="WELCOME10", tariff_id=1), actor_id=user_id)
    await create_promocode(PromocodeCreate(...), actor_id=operator_id)

command_api and the admin call these for every write; `ctx` defaults to the process-wide
context built from the settings.
"""

from loyalty.handlers.buyer import (
    apply_promocode,
    cancel_use_promocode,
    confirm_purchase,
    expire_reservation,
    expire_reservations,
    use_promocode,
)
from loyalty.handlers.context import Context, default_context
from loyalty.handlers.operator import (
    add_group_members,
    apply_to_users,
    assign_promocode,
    batch_csv,
    create_group,
    create_promocode,
    create_tariff,
    generate_promocodes,
    remove_group_members,
    unassign_promocode,
    update_promocode,
    update_tariff,
)

__all__ = [
    "Context",
    "add_group_members",
    "apply_promocode",
    "apply_to_users",
    "assign_promocode",
    "batch_csv",
    "cancel_use_promocode",
    "confirm_purchase",
    "create_group",
    "create_promocode",
    "create_tariff",
    "default_context",
    "expire_reservation",
    "expire_reservations",
    "generate_promocodes",
    "remove_group_members",
    "unassign_promocode",
    "update_promocode",
    "update_tariff",
    "use_promocode",
]
