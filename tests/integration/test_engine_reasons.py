"""Every reason a code fails: the answer the buyer gets, the attempts log, the event, and the
failed-attempts rate limit."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.errors import AppError
from loyalty import handlers, schemas
from loyalty.catalog import generator
from loyalty.context import Context, default_context
from tests.support.db import attempts_of, events_for
from tests.support.factories import (
    OPERATOR_ID,
    create_loyalty_user,
    create_promocode,
    create_tariff,
    request,
    sql,
    unique_code,
)

NOW = datetime.now(UTC)


async def refused(call, code: str, tariff_id: int, user_id: uuid.UUID) -> AppError:
    with pytest.raises(AppError) as raised:
        await call(request(code, tariff_id), actor_id=user_id)
    return raised.value


async def scenario(reason: str) -> tuple[str, int, uuid.UUID, int | None]:
    """A code, a tariff and a user for which `reason` is the first that applies."""
    tariff = await create_tariff()
    user = await create_loyalty_user()
    match reason:
        case "tariff_not_found":
            promo = await create_promocode()
            await handlers.update_tariff(
                tariff.id, schemas.TariffUpdate(is_active=False), actor_id=OPERATOR_ID
            )
            return promo.code, tariff.id, user, promo.id
        case "promocode_not_found":
            return unique_code("NOPE"), tariff.id, user, None
        case "promocode_not_assigned":
            promo = await create_promocode(audience="assigned")
            return promo.code, tariff.id, user, promo.id
        case "promocode_disabled":
            promo = await create_promocode(is_active=False)
        case "promocode_not_started":
            promo = await create_promocode(valid_from=NOW + timedelta(days=1), valid_until=None)
        case "promocode_expired":
            promo = await create_promocode(
                valid_from=NOW - timedelta(days=2), valid_until=NOW - timedelta(days=1)
            )
        case "tariff_not_eligible":
            other = await create_tariff()
            promo = await create_promocode(tariff_ids=[other.id])
        case "user_not_eligible":
            promo = await create_promocode()
            user = await create_loyalty_user(status="blocked")
        case "user_limit_reached":
            promo = await create_promocode(per_user_limit=1)
            await handlers.use_promocode(request(promo.code, tariff.id), actor_id=user)
        case "promocode_exhausted":
            promo = await create_promocode(max_uses=1)
            await handlers.use_promocode(
                request(promo.code, tariff.id), actor_id=await create_loyalty_user()
            )
    return promo.code, tariff.id, user, promo.id


ANSWERS = {
    "tariff_not_found": ("tariff_not_found", 404),
    "promocode_not_found": ("promocode_not_found", 404),
    "promocode_not_assigned": ("promocode_not_found", 404),
    "promocode_disabled": ("promocode_disabled", 422),
    "promocode_not_started": ("promocode_not_started", 422),
    "promocode_expired": ("promocode_expired", 422),
    "tariff_not_eligible": ("tariff_not_eligible", 422),
    "user_not_eligible": ("user_not_eligible", 403),
    "user_limit_reached": ("user_limit_reached", 409),
    "promocode_exhausted": ("promocode_exhausted", 409),
}


@pytest.mark.parametrize("endpoint", ["apply_promocode", "use_promocode"])
@pytest.mark.parametrize("reason", list(ANSWERS))
async def test_each_reason_is_answered_logged_and_published(reason, endpoint):
    code, tariff_id, user, promocode_id = await scenario(reason)
    typed = f"  {code.lower()} "
    call = getattr(handlers, endpoint)
    error = await refused(call, typed, tariff_id, user)
    assert (error.code, error.status_code) == ANSWERS[reason]

    [attempt] = [a for a in await attempts_of(user) if a["endpoint"] == endpoint]
    assert attempt["reason"] == reason
    assert attempt["code"] == typed.strip()
    assert attempt["promocode_id"] == promocode_id
    assert attempt["tariff_id"] == tariff_id
    [event] = await events_for(attempt["id"], "promocode.rejected")
    assert event["payload"]["reason"] == reason
    assert event["payload"]["user_id"] == str(user)
    assert event["payload"]["endpoint"] == endpoint


async def test_a_rejected_use_reserves_nothing():
    code, tariff_id, user, promocode_id = await scenario("tariff_not_eligible")
    await refused(handlers.use_promocode, code, tariff_id, user)
    promo = await handlers.update_promocode(
        promocode_id, schemas.PromocodeUpdate(description="look"), actor_id=OPERATOR_ID
    )
    assert promo.uses == 0


async def test_an_unknown_user_is_not_eligible():
    tariff = await create_tariff()
    promo = await create_promocode()
    stranger = uuid.uuid4()
    error = await refused(handlers.use_promocode, promo.code, tariff.id, stranger)
    assert (error.code, error.status_code) == ("user_not_eligible", 403)
    assert [a["reason"] for a in await attempts_of(stranger)] == ["user_not_eligible"]


async def test_an_assigned_code_reaches_its_user_and_the_members_of_its_groups():
    tariff = await create_tariff()
    promo = await create_promocode(audience="assigned")
    direct, member, outsider = [await create_loyalty_user() for _ in range(3)]
    group = await handlers.create_group(
        schemas.GroupCreate(name=f"g-{uuid.uuid4().hex[:8]}"), actor_id=OPERATOR_ID
    )
    await handlers.add_group_members(
        group.id, schemas.MembersRequest(user_ids=[member]), actor_id=OPERATOR_ID
    )
    await handlers.assign_promocode(
        promo.id,
        schemas.AssignmentRequest(user_ids=[direct], group_ids=[group.id]),
        actor_id=OPERATOR_ID,
    )
    for user in (direct, member):
        quote = await handlers.apply_promocode(request(promo.code, tariff.id), actor_id=user)
        assert quote.promocode == promo.code
    error = await refused(handlers.apply_promocode, promo.code, tariff.id, outsider)
    assert error.code == "promocode_not_found"


async def test_too_many_failed_attempts_are_refused_with_retry_after_and_logged(settings):
    tariff = await create_tariff()
    promo = await create_promocode()
    user = await create_loyalty_user()
    limit = settings.failed_attempts_per_minute
    for n in range(limit):
        error = await refused(handlers.apply_promocode, f"GUESS-{n}", tariff.id, user)
        assert error.code == "promocode_not_found"
    error = await refused(handlers.use_promocode, promo.code, tariff.id, user)
    assert (error.code, error.status_code) == ("too_many_attempts", 429)
    assert 1 <= int(error.headers["Retry-After"]) <= 61
    reasons = [a["reason"] for a in await attempts_of(user)]
    assert reasons == ["promocode_not_found"] * limit + ["too_many_attempts"]
    # Another user is not affected.
    other = await create_loyalty_user()
    assert (await handlers.apply_promocode(request(promo.code, tariff.id), actor_id=other)).discount


async def test_wrong_codes_from_one_address_are_limited_across_accounts(settings):
    """Guessing with many accounts from one address is refused once the address has tried
    its limit of wrong codes; rejections of real codes do not count for the address, and
    other addresses are not affected."""
    limit = 3
    ctx = replace(
        default_context(),
        settings=settings.model_copy(update={"failed_attempts_per_address_per_minute": limit}),
    )
    guesser = ctx.for_client(f"198.51.100.{uuid.uuid4().int % 250 + 1}")
    tariff = await create_tariff()
    used_up = await create_promocode(max_uses=1)
    await handlers.use_promocode(
        request(used_up.code, tariff.id), actor_id=await create_loyalty_user(), ctx=guesser
    )

    async def attempt(code: str, client: Context) -> str:
        with pytest.raises(AppError) as raised:
            await handlers.apply_promocode(
                request(code, tariff.id), actor_id=await create_loyalty_user(), ctx=client
            )
        return raised.value.code

    # A used-up code is no guess: the address may still try.
    assert [await attempt(used_up.code, guesser) for _ in range(limit)] == [
        "promocode_exhausted"
    ] * limit
    assert [await attempt(f"GUESS-{n}", guesser) for n in range(limit)] == [
        "promocode_not_found"
    ] * limit
    assert await attempt("GUESS-AGAIN", guesser) == "too_many_attempts"
    elsewhere = ctx.for_client(f"203.0.113.{uuid.uuid4().int % 250 + 1}")
    assert await attempt("GUESS-ELSEWHERE", elsewhere) == "promocode_not_found"


async def test_a_mistyped_generated_code_is_told_apart_from_a_code_that_does_not_exist():
    tariff = await create_tariff()
    user = await create_loyalty_user()
    prefix = "TYPE" + uuid.uuid4().hex[:4].upper().translate(str.maketrans("01", "23")) + "-"
    batch = await handlers.generate_promocodes(
        schemas.GenerateRequest(
            count=3, prefix=prefix, pattern="XXXX-XXXX", discount_type="percent", value=10
        ),
        actor_id=OPERATOR_ID,
    )
    [good] = await sql("SELECT code FROM promocodes WHERE batch_id = :b LIMIT 1", b=batch.batch_id)
    code = good["code"]
    swapped = next(ch for ch in generator.ALPHABET if ch != code[-1])
    typo = code[:-1] + swapped  # one character off: the check character no longer fits
    assert (
        await handlers.apply_promocode(request(code, tariff.id), actor_id=user)
    ).promocode == code
    error = await refused(handlers.apply_promocode, typo.lower(), tariff.id, user)
    assert (error.code, error.status_code) == ("promocode_mistyped", 404)
    # Not the batch's shape (a letter the generator never uses): no such code, plainly.
    error = await refused(handlers.apply_promocode, code[:-1] + "O", tariff.id, user)
    assert error.code == "promocode_not_found"
    logged = [a["reason"] for a in await attempts_of(user)]
    assert sorted(logged) == ["promocode_mistyped", "promocode_not_found"]
