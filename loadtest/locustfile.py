"""Locust scenarios: buyers (most of the traffic) and an operator, against API.md.

Run by the gate (`python -m loadtest`), which seeds first and passes the targets and the seed
file through the environment (`loadtest.targets`). A response counts as a failure unless it
has the status the contract promises for that call.
"""

import itertools
import os
import random
import uuid
from pathlib import Path
from urllib.parse import urlencode

from locust import FastHttpUser, between, task

from loadtest.seed import Seed
from loadtest.targets import ENV_SEED_FILE, Targets

TARGETS = Targets.from_env()
SEED = Seed.load(Path(os.environ[ENV_SEED_FILE]))
_buyers = itertools.cycle(SEED.buyers)

CONFIRM_SHARE = 0.7  # of reserved purchases; the rest are cancelled (payment failed)


class ApiUser(FastHttpUser):
    abstract = True
    host = TARGETS.auth
    email = password = token = ""

    def login(self) -> None:
        with self.client.post(
            TARGETS.auth_url("/login"),
            json={"email": self.email, "password": self.password},
            name="/auth/login (token renewal)",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                self.token = response.json()["access_token"]
            else:
                response.failure(f"login answered {response.status_code}")

    def call(
        self,
        method: str,
        url: str,
        name: str,
        expected: int,
        json: dict | None = None,
        headers: dict[str, str] | None = None,
    ):
        """One request that must answer `expected`; a 401 (expired token) renews it once."""
        for attempt in (1, 2):
            with self.client.request(
                method,
                url,
                name=name,
                json=json,
                headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
                catch_response=True,
            ) as response:
                if response.status_code == 401 and attempt == 1:
                    response.success()  # an expired token is not the service's fault
                elif response.status_code != expected:
                    body = (response.text or "")[:200]
                    response.failure(f"{response.status_code} (expected {expected}): {body}")
                    return None
                else:
                    response.success()  # also for an expected 4xx, which Locust would fail
                    return response.json() if response.text else None
            self.login()
        return None


class Buyer(ApiUser):
    """A subscriber: looks at the offers, prices a tariff with a code, buys with it."""

    weight = 9
    wait_time = between(1, 3)

    def on_start(self) -> None:
        buyer = next(_buyers)
        self.email, self.password, self.token = buyer.email, buyer.password, buyer.access_token

    def promo(self) -> dict:
        return {"promocode": random.choice(SEED.codes), "tariff_id": SEED.tariff_id}

    @task(5)
    def get_active_promocodes(self) -> None:
        self.call(
            "GET",
            TARGETS.query_url("/get_active_promocodes"),
            "/loyalty/get_active_promocodes",
            200,
        )

    @task(3)
    def purchases(self) -> None:
        self.call("GET", TARGETS.query_url("/purchases"), "/loyalty/purchases", 200)

    @task(4)
    def apply_promocode(self) -> None:
        self.call(
            "POST",
            TARGETS.command_url("/apply_promocode"),
            "/loyalty/apply_promocode",
            200,
            json=self.promo(),
        )

    @task(1)
    def apply_unknown_promocode(self) -> None:
        """A typo: rejected with 404 and recorded as a failed attempt (rare enough to stay
        under the per-user limit of failed attempts)."""
        self.call(
            "POST",
            TARGETS.command_url("/apply_promocode"),
            "/loyalty/apply_promocode (unknown code)",
            404,
            json={"promocode": f"NOPE-{uuid.uuid4().hex[:8]}", "tariff_id": SEED.tariff_id},
        )

    @task(2)
    def buy_with_a_code(self) -> None:
        """Reserve a use, then the payment succeeds (confirm) or fails (cancel)."""
        purchase = self.call(
            "POST",
            TARGETS.command_url("/use_promocode"),
            "/loyalty/use_promocode",
            201,
            json=self.promo(),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if not purchase:
            return
        body = {"purchase_id": purchase["purchase_id"]}
        if random.random() < CONFIRM_SHARE:
            self.call(
                "POST",
                TARGETS.command_url("/confirm_purchase"),
                "/loyalty/confirm_purchase",
                200,
                json=body,
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        else:
            self.call(
                "POST",
                TARGETS.command_url("/cancel_use_promocode"),
                "/loyalty/cancel_use_promocode",
                200,
                json={**body, "reason": "payment_failed"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )


class Operator(ApiUser):
    """An operator watching the campaign: the code list, one code, the failed attempts."""

    weight = 1
    wait_time = between(2, 5)

    def on_start(self) -> None:
        self.email, self.password = SEED.operator_email, SEED.operator_password
        self.token = SEED.operator_token

    @task(3)
    def list_promocodes(self) -> None:
        self.call("GET", TARGETS.query_url("/promocodes"), "/loyalty/promocodes", 200)

    @task(2)
    def promocode_detail(self) -> None:
        promocode_id = random.choice(SEED.promocode_ids)
        self.call(
            "GET",
            TARGETS.query_url(f"/promocodes/{promocode_id}"),
            "/loyalty/promocodes/[id]",
            200,
        )

    @task(2)
    def attempts(self) -> None:
        self.call(
            "GET",
            TARGETS.query_url(f"/attempts?{urlencode({'promocode': random.choice(SEED.codes)})}"),
            "/loyalty/attempts?promocode=",
            200,
        )
