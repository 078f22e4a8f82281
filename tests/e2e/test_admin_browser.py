"""The operator console in a real browser (Debian's chromium driven by Playwright): a whole
promotion run the way an operator clicks through it. Skipped only where /usr/bin/chromium is
not installed (`apt-get install chromium`); no browser is ever downloaded.

Every run saves screenshots of the main screens to docs/images, the pictures the README and
docs/admin.md show, so they always show the console as it is."""

import json
import os
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import async_playwright, expect

from core.config import get_settings
from core.redis import get_redis
from core.streams import LOYALTY_EVENTS
from tests.support.admin import PASSWORD, new_account, registered_buyer
from tests.support.db import sql
from tests.support.factories import (
    create_group,
    create_loyalty_user,
    create_promocode,
    create_tariff,
)
from tests.support.polling import eventually

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"
)


IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture(scope="module")
def images() -> Path:
    return IMAGES


@pytest.fixture
async def page():

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = await browser.new_context(viewport={"width": 1440, "height": 1000})
        page = await context.new_page()
        page.set_default_timeout(30_000)  # a shared, busy machine
        yield page
        await browser.close()


@pytest.fixture
def shot(page, images):
    """`await shot("name")`: the whole page as images/name.png, once it is known to look
    right: nothing wider than the window, the sidebar as long as the page."""

    async def take(name: str, full_page: bool = True) -> None:
        layout = await page.evaluate(
            """() => ({
                page: document.documentElement.scrollWidth,
                window: window.innerWidth,
                height: document.documentElement.scrollHeight,
                sidebar: document.querySelector("aside.navbar-vertical").getBoundingClientRect()
                    .bottom + window.scrollY,
            })"""
        )
        assert layout["page"] <= layout["window"], f"{name} is wider than the window: {layout}"
        # scrollHeight is whole pixels, the sidebar's bottom is not: less than one is rounding.
        assert layout["sidebar"] > layout["height"] - 1, f"{name}'s sidebar stops short: {layout}"
        images.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(images / f"{name}.png"), full_page=full_page)

    return take


async def open_form(page, url: str, field: str) -> None:
    """Opens a form page; if the field is not there, fails saying where the browser is."""
    await page.goto(url)
    if await page.locator(field).count() == 0:
        text = (await page.locator("body").inner_text())[:500]
        raise AssertionError(f"no {field} at {page.url}: {text}")


async def sign_in(page, admin_url: str) -> None:
    email = await new_account("operator")
    await page.goto(f"{admin_url}/admin/login")
    await page.fill('input[name="username"]', email)
    await page.fill('input[name="password"]', PASSWORD)
    await page.get_by_role("button", name="Login").click()
    await page.wait_for_url(re.compile(r"/admin/$"))


async def find_users(page, admin_url: str, text: str) -> None:
    await page.goto(f"{admin_url}/admin/users")
    await page.get_by_label("email or id").fill(text)
    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url(re.compile(r"q="))


async def failed_attempt(platform, email: str, typed: str, tariff_id: int) -> None:
    """The buyer types a code that does not exist for a tariff that does, through the real
    API (so the reason is the code, whatever else the database holds)."""
    async with httpx.AsyncClient() as http:
        login = await http.post(
            f"{platform.urls['auth']}/api/v1/auth/login",
            json={"email": email, "password": PASSWORD},
        )
        token = login.json()["access_token"]
        rejected = await http.post(
            f"{platform.urls['command_api']}/api/v1/loyalty/apply_promocode",
            json={"promocode": typed, "tariff_id": tariff_id},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert rejected.status_code == 404


async def test_an_operator_runs_a_promotion_in_a_real_browser(platform, page, shot):
    admin = platform.urls["admin"]
    tag = uuid.uuid4().hex[:8]
    first, first_email = await registered_buyer(platform, f"pw-{tag}-anna@example.com")
    _, second_email = await registered_buyer(platform, f"pw-{tag}-boris@example.com")
    tariff_name, code_text, group_name = f"Premium {tag}", f"SPRING{tag.upper()}", f"VIP {tag}"
    # Names as long as they may be, as fuzzing leaves them: every picker must still fit.
    await create_tariff(name=f"Long {tag} " + "0" * 186)
    await create_group(name=f"Long {tag} " + "W" * 186)

    await sign_in(page, admin)

    # A tariff, priced in roubles.
    await open_form(page, f"{admin}/admin/tariff/create", "#name")
    await page.fill("#name", tariff_name)
    await page.fill("#price", "399.00")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url(re.compile(r"/admin/tariff/list"))
    assert await page.get_by_text("399.00 ₽").first.is_visible()

    # A code for assigned users only: 25% off, empty Valid From (= now). A percent of 250 is
    # refused under the Value field, the form keeping what was typed.
    await open_form(page, f"{admin}/admin/promocode/create", "#code")
    await page.fill("#code", code_text)
    await page.select_option("#discount_type", "percent")
    await page.fill("#value", "250")
    await page.select_option("#audience", "assigned")
    await page.get_by_role("button", name="Save", exact=True).click()
    problem = page.locator("#value ~ .invalid-feedback")
    await expect(problem).to_have_text("a percent discount is between 1 and 100")
    assert await page.input_value("#code") == code_text
    assert await page.input_value("#audience") == "assigned"
    await shot("admin-code-form")
    await page.fill("#value", "25")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url(re.compile(r"/admin/promocode/list"))
    await shot("admin-codes", full_page=False)  # the first rows of a long list
    await page.get_by_role("link", name=code_text).click()
    await page.wait_for_url(re.compile(r"/admin/codes/\d+"))
    code_url = page.url

    # A group, its members picked by email.
    await open_form(page, f"{admin}/admin/user-group/create", "#name")
    await page.fill("#name", group_name)
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url(re.compile(r"/admin/user-group/list"))
    await page.get_by_role("link", name=group_name).click()
    await page.get_by_label("Find users").fill(f"pw-{tag}")
    await page.get_by_role("button", name="Find users").click()
    await page.get_by_label(f"pick {first_email}").check()
    await page.get_by_label(f"pick {second_email}").check()
    await page.get_by_role("button", name="Add ticked users").click()
    await page.get_by_text("2 member(s) added").wait_for()

    # The code goes to the group, from the code's page.
    await page.goto(code_url)
    await page.get_by_label("group").select_option(label=group_name)
    await page.get_by_role("button", name="Assign to group").click()
    await page.get_by_text("Assigned to the group").wait_for()

    # Apply it to both buyers from the Users list: a preview, then the real thing.
    await find_users(page, admin, f"pw-{tag}")
    await page.get_by_label(f"pick {first_email}").check()
    await page.get_by_label(f"pick {second_email}").check()
    await page.get_by_label("code", exact=True).select_option(label=code_text)
    await page.get_by_label("tariff").select_option(label=f"{tariff_name} (399.00 ₽)")
    await shot("admin-users")
    await page.get_by_role("button", name="Apply code… (preview first)").click()
    await page.get_by_text("Preview (nothing written yet)").wait_for()
    await shot("admin-apply-preview")
    await page.get_by_role("button", name="Apply for real").click()
    outcome = page.locator("[data-outcome]")
    await outcome.wait_for()
    assert await outcome.get_attribute("data-outcome") == "success"
    assert "applied to all 2 user(s)" in await outcome.inner_text()
    paid = await sql(
        "SELECT p.status, p.final_price FROM purchases p JOIN promocodes c "
        "ON c.id = p.promocode_id WHERE c.code = :c",
        c=code_text,
    )
    assert [r["final_price"] for r in paid] == [29_925, 29_925]
    await page.goto(code_url)
    assert await page.locator('[data-figure="uses"]').inner_text() == "2"
    await shot("admin-code")

    # "Why did my code fail?": find the buyer by email, read the reason on their page.
    [tariff] = await sql("SELECT id FROM tariffs WHERE name = :n", n=tariff_name)
    await failed_attempt(platform, first_email, f"NOPE{tag.upper()}", tariff["id"])
    await find_users(page, admin, first_email)
    await page.get_by_role("link", name=first_email).click()
    await page.wait_for_url(re.compile(rf"/admin/users/{first}"))
    attempts = page.locator("#user-attempts")
    await attempts.get_by_text("promocode_not_found").wait_for()
    assert f"NOPE{tag.upper()}" in await attempts.inner_text()
    assert code_text in await page.locator("#user-codes").inner_text()
    assert group_name in await page.locator("#user-groups").inner_text()
    await shot("admin-user")

    # The dashboard counts today's failure.
    await page.goto(f"{admin}/admin/")
    assert await page.get_by_text("promocode_not_found").first.is_visible()
    await shot("admin-dashboard")

    # A dead letter, shown with its error and replayed.
    redis = get_redis(get_settings().redis_url)
    event_id = str(uuid.uuid4())
    entry_id = await redis.xadd(
        f"{LOYALTY_EVENTS}.dlq",
        {
            "event_id": event_id,
            "type": "test.browser",
            "occurred_at": "2026-01-01T00:00:00+00:00",
            "aggregate_id": tag,
            "payload": json.dumps({"tag": tag}),
            "source_id": "1-0",
            "group": "projector",
            "error": "KeyError('tariff')",
        },
    )
    await page.goto(f"{admin}/admin/pipeline")
    row = page.locator("#dead-letters tr", has_text=event_id)
    assert "KeyError" in await row.inner_text()
    await shot("admin-pipeline")
    await row.get_by_role("button", name="Replay").click()
    await page.get_by_text(f"Dead letter {entry_id} put back").wait_for()
    assert await redis.xrange(f"{LOYALTY_EVENTS}.dlq", min=entry_id, max=entry_id) == []


async def test_an_operator_picks_members_by_typing_and_reads_a_batchs_page(platform, page, shot):
    """The group members form searches every user as the operator types (an email through
    auth); the generator leads to the batch's page with its codes, usage and CSV."""
    admin = platform.urls["admin"]
    tag = uuid.uuid4().hex[:8]
    member, email = await registered_buyer(platform, f"pick-{tag}@example.com")
    group = await create_group()
    await sign_in(page, admin)

    await open_form(page, f"{admin}/admin/group-member/create", "#group_id")
    await page.select_option("#group_id", str(group.id))
    await page.locator("#user_ids + .select2 .select2-selection").click()
    await page.locator(".select2-search__field").fill(f"pick-{tag}")
    await page.locator(".select2-results__option", has_text=email).click()
    await shot("admin-member-picker")
    await page.get_by_role("button", name="Save", exact=True).click()
    await page.wait_for_url(re.compile(r"/admin/group-member/list"))
    assert await sql(
        "SELECT 1 FROM group_members WHERE group_id = :g AND user_id = :u", g=group.id, u=member
    )

    await page.goto(f"{admin}/admin/operations")
    generator = page.locator("form", has_text="Generate promo codes")
    await generator.get_by_label("Count", exact=True).fill("120")
    await generator.get_by_label("Prefix (optional), e.g. SPRING-").fill(f"B{tag[:4].upper()}-")
    await generator.get_by_label("Value: percent").fill("15")
    await generator.get_by_role("button", name="Generate").click()
    await page.get_by_role("link", name="The batch's page").click()
    await page.wait_for_url(re.compile(r"/admin/batches/"))
    assert await page.locator('[data-figure="codes"]').inner_text() == "120"
    assert await page.locator('[data-figure="unused"]').inner_text() == "120"
    assert await page.locator("#batch-codes tr").count() == 51  # a header and 50 codes
    await shot("admin-batch")
    async with page.expect_download() as download:
        await page.get_by_role("link", name="Download CSV").click()
    assert (await download.value).suggested_filename.endswith(".csv")


async def test_sqladmins_own_buttons_carry_the_csrf_token_in_a_real_browser(platform, page):
    """Disable (a GET action turned confirmation page + POST), delete (SQLAdmin's script
    request) and sign-out (a POST form) all work from the browser, token included."""
    admin = platform.urls["admin"]
    code = await create_promocode()
    member = await create_loyalty_user()
    group = await create_group(member)
    await sign_in(page, admin)

    await page.goto(f"{admin}/admin/promocode/list?search={code.code}")
    await page.locator(".select-box").first.check()
    await page.get_by_role("button", name="Actions").click()
    await page.locator("#action-custom-disable").click()
    await page.get_by_text("Disable these codes?").wait_for()
    assert code.code in await page.locator("form").last.inner_text()
    await page.get_by_role("button", name="Disable", exact=True).click()
    await page.get_by_text("1 code(s) disabled").wait_for()
    [row] = await sql("SELECT is_active FROM promocodes WHERE id = :i", i=code.id)
    assert row["is_active"] is False

    await page.goto(f"{admin}/admin/group-member/list?search={member}")
    await page.locator('a[data-bs-target="#modal-delete"][data-pk]').first.click()
    delete = page.locator("#modal-delete-button")
    # SQLAdmin gives the button its URL once the modal is shown (after its animation).
    await expect(delete).to_have_attribute("data-url", re.compile(r"/group-member/delete"))
    await delete.click()

    async def members() -> list[dict]:
        return await sql("SELECT 1 FROM group_members WHERE group_id = :g", g=group.id)

    await eventually(members, until=lambda rows: rows == [])

    await page.get_by_role("button", name="Logout").click()
    await page.wait_for_url(re.compile(r"/admin/login"))
    await page.goto(f"{admin}/admin/users")
    await page.wait_for_url(re.compile(r"/admin/login"))
