"""Locust scenarios against API.md: buyers (most of the traffic) and an operator.

Run by the gate (`python -m loadtest`), which seeds first, passes the targets, the seed file
and an optional rate through the environment (`loadtest.targets`) and names the user classes
of the chosen profile (`loadtest.profiles`). A response counts as a failure unless it has the
status the contract promises for that call.
"""

import itertools
import os
import random
import uuid
from pathlib import Path
from urllib.parse import urlencode

import gevent.event
from locust import FastHttpUser, between, constant, constant_throughput, events, task

from loadtest.seed import Seed
from loadtest.targets import ENV_SEED_FILE, ENV_TASK_RATE, Targets

TARGETS = Targets.from_env()
SEED = Seed.load(Path(os.environ[ENV_SEED_FILE]))
_buyers = itertools.cycle(SEED.buyers)

CONFIRM_SHARE = 0.7  # of reserved purchases; the rest are cancelled (payment failed)
SALE_OPENS = gevent.event.Event()  # set when every user of the run has been spawned
SALE_WAIT_LIMIT_SECONDS = 120.0
PACE_SECONDS = 0.0  # with `--rate`, each user's period between tasks (set at the end)


@events.spawning_complete.add_listener
def open_the_sale(user_count: int, **_kwargs) -> None:
    SALE_OPENS.set()


class ApiUser(FastHttpUser):
    abstract = True
    host = TARGETS.auth
    email = password = token = refresh_token = ""

    def login(self, name: str = "/auth/login (token renewal)") -> None:
        self.take_tokens("/login", {"email": self.email, "password": self.password}, name)

    def renew(self, name: str) -> None:
        """The app's way back in: the refresh token buys a new pair (and is spent)."""
        self.take_tokens("/refresh_token", {"refresh_token": self.refresh_token}, name)

    def take_tokens(self, path: str, body: dict, name: str) -> None:
        with self.client.post(
            TARGETS.auth_url(path), json=body, name=name, catch_response=True
        ) as response:
            if response.status_code == 200:
                self.token, self.refresh_token = self.token_pair(response.json())
            else:
                response.failure(f"{path.lstrip('/')} answered {response.status_code}")

    def on_start(self) -> None:
        self.sign_in()
        self.stagger()

    def sign_in(self) -> None:
        """Takes this user's account and tokens from the seed."""
        raise NotImplementedError

    def stagger(self) -> None:
        """At a paced rate, the first task waits a random part of the user's period, so the
        users' requests arrive spread over it (started together, they would come in bursts of
        all of them at once, every period)."""
        if PACE_SECONDS:
            gevent.sleep(random.uniform(0, PACE_SECONDS))

    @staticmethod
    def token_pair(body: dict) -> tuple[str, str]:
        return body["access_token"], body["refresh_token"]

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


class BuyerBase(ApiUser):
    """What every buyer does; the classes below choose the codes, the mix and the pace."""

    abstract = True

    def sign_in(self) -> None:
        buyer = next(_buyers)
        self.email, self.password = buyer.email, buyer.password
        self.token, self.refresh_token = buyer.access_token, buyer.refresh_token

    def list_offers(self) -> None:
        self.call(
            "GET",
            TARGETS.query_url("/get_active_promocodes"),
            "/loyalty/get_active_promocodes",
            200,
        )

    def quote(self, promo: dict) -> None:
        self.call(
            "POST", TARGETS.command_url("/apply_promocode"), "/loyalty/apply_promocode", 200, promo
        )

    def buy(self, promo: dict, confirm_share: float) -> None:
        """Reserve a use, then confirm it (the payment succeeded, `confirm_share` of the
        time) or cancel it (the payment failed)."""
        purchase = self.purchase_step("/use_promocode", 201, promo)
        if not purchase:
            return
        body = {"purchase_id": purchase["purchase_id"]}
        if random.random() < confirm_share:
            self.purchase_step("/confirm_purchase", 200, body)
        else:
            self.purchase_step("/cancel_use_promocode", 200, {**body, "reason": "payment_failed"})

    def purchase_step(self, path: str, expected: int, body: dict):
        """One step of a purchase (use, confirm, cancel), sent as the app sends it: with a
        fresh Idempotency-Key, so a retry after a lost answer would not buy twice."""
        return self.call(
            "POST",
            TARGETS.command_url(path),
            f"/loyalty{path}",
            expected,
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )


class Buyer(BuyerBase):
    """A subscriber: looks at the offers, prices a tariff with a code, buys with it."""

    weight = 9
    wait_time = between(1, 3)

    def promo(self) -> dict:
        return {"promocode": random.choice(SEED.codes), "tariff_id": SEED.tariff_id}

    @task(5)
    def get_active_promocodes(self) -> None:
        self.list_offers()

    @task(3)
    def purchases(self) -> None:
        self.call("GET", TARGETS.query_url("/purchases"), "/loyalty/purchases", 200)

    @task(4)
    def apply_promocode(self) -> None:
        self.quote(self.promo())

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
        self.buy(self.promo(), CONFIRM_SHARE)

    @task(1)
    def come_back_later(self) -> None:
        """A returning buyer opens the app again: it renews the session with the refresh
        token, then shows what they bought."""
        self.renew("/auth/refresh_token (returning buyer)")
        self.purchases()


class Operator(ApiUser):
    """An operator watching the campaign: the code list, one code, the failed attempts."""

    weight = 1
    wait_time = between(2, 5)

    def sign_in(self) -> None:
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


def hot_code() -> dict:
    return {"promocode": SEED.hot_code, "tariff_id": SEED.tariff_id}


class HotCodeBuyer(BuyerBase):
    """A promotion: the buyer waits for the sale to open (every user spawned), then, without
    think time, buys with the one hot code; some price it or look at the offers first."""

    weight = 19  # with the operator's 1: one user in 20 is an operator
    wait_time = constant(0)

    def on_start(self) -> None:
        self.sign_in()
        SALE_OPENS.wait(SALE_WAIT_LIMIT_SECONDS)
        self.stagger()

    @task(6)
    def buy_the_hot_code(self) -> None:
        self.buy(hot_code(), CONFIRM_SHARE)

    @task(2)
    def quote_the_hot_code(self) -> None:
        self.quote(hot_code())

    @task(2)
    def get_active_promocodes(self) -> None:
        self.list_offers()


class MixedUser(BuyerBase):
    """The speed issue's mixed load, no think time, all on the hot code: of the actions 70%
    list the offers, 20% quote, 10% reserve a use and cancel it (so the code never runs out
    and every use given back is exercised)."""

    wait_time = constant(0)

    @task(7)
    def get_active_promocodes(self) -> None:
        self.list_offers()

    @task(2)
    def quote_the_hot_code(self) -> None:
        self.quote(hot_code())

    @task(1)
    def use_then_cancel(self) -> None:
        self.buy(hot_code(), confirm_share=0.0)


# `--rate R` of the gate: R tasks per second in all, split evenly over the users. It replaces
# every class's think time (Locust's constant_throughput: it can slow a user down to the rate,
# never speed it up past what the responses allow).
if os.environ.get(ENV_TASK_RATE):
    _per_user = float(os.environ[ENV_TASK_RATE])
    PACE_SECONDS = 1 / _per_user
    for _user_class in (Buyer, Operator, HotCodeBuyer, MixedUser):
        _user_class.wait_time = constant_throughput(_per_user)
