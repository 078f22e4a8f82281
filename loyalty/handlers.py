"""The write side's public API: plain async functions taking validated input and the actor.

    await use_promocode(PromocodeRequest(promocode="WELCOME10", tariff_id=1), actor_id=user_id)
    await create_promocode(PromocodeCreate(...), actor_id=operator_id)

command_api, the admin and the workers call these for every write. Each lives with its
aggregate (catalog, audience, purchasing); `ctx` defaults to the process-wide context.
"""

from loyalty.audience.handlers import (
    add_group_members,
    assign_promocode,
    create_group,
    remove_group_members,
    sync_user,
    unassign_promocode,
)
from loyalty.catalog.handlers import (
    create_promocode,
    create_tariff,
    generate_promocodes,
    update_promocode,
    update_tariff,
)
from loyalty.context import Context, default_context
from loyalty.purchasing.apply_to_users import apply_to_users
from loyalty.purchasing.handlers import (
    apply_promocode,
    cancel_use_promocode,
    confirm_purchase,
    expire_reservation,
    expire_reservations,
    use_promocode,
)

__all__ = [
    "Context",
    "add_group_members",
    "apply_promocode",
    "apply_to_users",
    "assign_promocode",
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
    "sync_user",
    "unassign_promocode",
    "update_promocode",
    "update_tariff",
    "use_promocode",
]
