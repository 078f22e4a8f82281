"""Data for a load run, made through the public API only (API.md), so it works against any
running stack: N buyers registered and logged in, an operator token, a tariff, two unlimited
promo codes for an ordinary day and one hot code for a promotion (a limit of uses far above
what a run takes, no per-user limit). Every name carries a run id, so runs never collide.

`python -m loadtest.seed --users 50 --out seed.json` writes what the Locust users read.
"""

import argparse
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from loadtest.targets import Targets

DEMO_OPERATOR_EMAIL = "admin@example.com"
DEMO_OPERATOR_PASSWORD = "admin-password-1"
BUYER_PASSWORD = "load-test-pass-1"
TARIFF_PRICE = 39_900
SYNC_TIMEOUT_SECONDS = 30.0
# The hot code's max_uses: a promotion's code is limited (the conditional update of a limited
# code is the path under test), and a run of minutes at hundreds of uses/s stays far below.
HOT_CODE_USES = 1_000_000


class SeedError(RuntimeError):
    pass


@dataclass
class Buyer:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str = ""


@dataclass
class Seed:
    run_id: str
    operator_email: str
    operator_password: str
    operator_token: str
    tariff_id: int
    codes: list[str]  # the ordinary codes, unlimited
    promocode_ids: list[int]  # every code of the run, the hot one included
    buyers: list[Buyer]
    hot_code: str

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> "Seed":
        data = json.loads(path.read_text())
        data["buyers"] = [Buyer(**buyer) for buyer in data["buyers"]]
        return cls(**data)


def say(message: str) -> None:
    print(f"[seed] {message}", flush=True)


def expect(response: httpx.Response, status: int, what: str) -> dict:
    if response.status_code != status:
        raise SeedError(
            f"{what}: {response.request.method} {response.request.url} answered "
            f"{response.status_code}, expected {status}: {response.text[:300]}"
        )
    return response.json() if response.content else {}


def login(client: httpx.Client, targets: Targets, email: str, password: str) -> str:
    return sign_in(client, targets, email, password)["access_token"]


def sign_in(client: httpx.Client, targets: Targets, email: str, password: str) -> dict:
    """The token pair: `access_token`, `refresh_token`."""
    response = client.post(targets.auth_url("/login"), json={"email": email, "password": password})
    return expect(response, 200, f"login {email}")


def register_buyer(client: httpx.Client, targets: Targets, email: str) -> Buyer:
    response = client.post(
        targets.auth_url("/user_registration"), json={"email": email, "password": BUYER_PASSWORD}
    )
    user_id = expect(response, 201, f"register {email}")["id"]
    tokens = sign_in(client, targets, email, BUYER_PASSWORD)
    return Buyer(
        id=user_id,
        email=email,
        password=BUYER_PASSWORD,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_catalogue(
    client: httpx.Client,
    targets: Targets,
    operator_token: str,
    run_id: str,
    hot_code_uses: int | None = HOT_CODE_USES,
) -> tuple[int, list[str], list[int]]:
    """One tariff, two codes without use limits (so a long run never exhausts them) and the
    hot code, last: `hot_code_uses` uses (None: unlimited), none limited per user."""
    headers = bearer(operator_token)
    tariff = expect(
        client.post(
            targets.command_url("/tariffs"),
            json={"name": f"Load test {run_id}", "price": TARIFF_PRICE},
            headers=headers,
        ),
        201,
        "create tariff",
    )
    now = datetime.now(UTC)
    codes, ids = [], []
    shapes = (
        ("PCT", "percent", 15, None),
        ("AMT", "amount", 5_000, None),
        ("HOT", "percent", 30, hot_code_uses),
    )
    for suffix, discount_type, value, max_uses in shapes:
        code = f"LT-{run_id}-{suffix}"
        body = {
            "code": code,
            "discount_type": discount_type,
            "value": value,
            "valid_from": (now - timedelta(minutes=5)).isoformat(),
            "valid_until": (now + timedelta(days=1)).isoformat(),
            "max_uses": max_uses,
            "per_user_limit": None,
            "tariff_ids": [],
            "audience": "everyone",
        }
        created = expect(
            client.post(targets.command_url("/promocodes"), json=body, headers=headers),
            201,
            f"create promo code {code}",
        )
        codes.append(code)
        ids.append(created["id"])
    return tariff["id"], codes, ids


def wait_until(what: str, ready, timeout: float = SYNC_TIMEOUT_SECONDS) -> bool:
    """Polls `ready()` with a growing pause (few calls: failed quotes count toward a limit)."""
    deadline = time.monotonic() + timeout
    pause = 0.1
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
    say(f"warning: {what} not seen within {timeout:.0f} s")
    return False


def wait_for_the_read_side(
    client: httpx.Client, targets: Targets, probe: Buyer, tariff_id: int, code: str
) -> None:
    """The buyers exist on the loyalty side (user sync) and the codes in the read models
    (projector) before the load starts, so the run measures steady state."""
    headers = bearer(probe.access_token)

    def user_synced() -> bool:
        response = client.post(
            targets.command_url("/apply_promocode"),
            json={"promocode": code, "tariff_id": tariff_id},
            headers=headers,
        )
        return response.status_code == 200

    def code_projected() -> bool:
        response = client.get(
            targets.query_url("/get_active_promocodes?limit=200"), headers=headers
        )
        return response.status_code == 200 and any(
            item.get("code") == code for item in response.json()
        )

    wait_until("the last buyer on the loyalty side (user sync)", user_synced)
    wait_until(f"{code} in get_active_promocodes (projector)", code_projected)


def seed(
    targets: Targets,
    users: int,
    operator_email: str = DEMO_OPERATOR_EMAIL,
    operator_password: str = DEMO_OPERATOR_PASSWORD,
    parallel: int = 4,
    hot_code_uses: int | None = HOT_CODE_USES,
) -> Seed:
    run_id = uuid.uuid4().hex[:8].upper()
    with httpx.Client(timeout=30) as client:
        operator_token = login(client, targets, operator_email, operator_password)
        tariff_id, all_codes, promocode_ids = create_catalogue(
            client, targets, operator_token, run_id, hot_code_uses
        )
        *codes, hot_code = all_codes
        uses = f"{hot_code_uses:,} uses" if hot_code_uses else "unlimited"
        say(f"run {run_id}: tariff {tariff_id}, codes {', '.join(codes)}, hot {hot_code} ({uses})")
        emails = [f"load-{run_id.lower()}-{i}@example.com" for i in range(users)]
        with ThreadPoolExecutor(parallel) as pool:
            buyers = list(pool.map(lambda email: register_buyer(client, targets, email), emails))
        say(f"{len(buyers)} buyers registered and logged in")
        wait_for_the_read_side(client, targets, buyers[-1], tariff_id, hot_code)
    return Seed(
        run_id=run_id,
        operator_email=operator_email,
        operator_password=operator_password,
        operator_token=operator_token,
        tariff_id=tariff_id,
        codes=codes,
        promocode_ids=promocode_ids,
        buyers=buyers,
        hot_code=hot_code,
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m loadtest.seed")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("loadtest-seed.json"))
    parser.add_argument("--auth-url", default=Targets.auth)
    parser.add_argument("--command-url", default=Targets.command)
    parser.add_argument("--query-url", default=Targets.query)
    parser.add_argument("--operator-email", default=DEMO_OPERATOR_EMAIL)
    parser.add_argument("--operator-password", default=DEMO_OPERATOR_PASSWORD)
    args = parser.parse_args()
    targets = Targets(args.auth_url, args.command_url, args.query_url)
    seed(targets, args.users, args.operator_email, args.operator_password).save(args.out)
    say(f"written to {args.out}")


if __name__ == "__main__":
    main()
