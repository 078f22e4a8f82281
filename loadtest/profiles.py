"""The load profiles `python -m loadtest --profile NAME` runs: which Locust user classes of
`loadtest/locustfile.py` take part, and the load each starts with unless told otherwise.

Kept apart from the locustfile (which needs a seed file to import) so the gate, the Makefile
and the tests can name the profiles without starting Locust.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    user_classes: tuple[str, ...]  # class names in loadtest/locustfile.py, weights there
    users: int
    run_time: int  # seconds
    # Users started per second; None: everyone at once, however many users are asked for.
    spawn_rate: float | None = None

    def spawn_rate_for(self, users: int) -> float:
        return self.spawn_rate or users


DAY = Profile(
    name="day",
    summary=(
        "an ordinary day: buyers with 1-3 s of think time list the offers, price a tariff, "
        "buy with a code (then confirm, or cancel when the payment fails), check their "
        "purchases and come back later (the session renewed with the refresh token); "
        "operators (1 user in 10) watch the codes"
    ),
    user_classes=("Buyer", "Operator"),
    users=50,
    spawn_rate=10,
    run_time=60,
)

PROMOTION = Profile(
    name="promotion",
    summary=(
        "a promotion: every buyer starts at the same moment (the sale opens when all are "
        "spawned) and, without think time, buys with ONE hot code (then confirms or cancels), "
        "some price it or list the offers; operators (1 user in 20) watch the codes"
    ),
    user_classes=("HotCodeBuyer", "Operator"),
    users=200,
    run_time=60,
)

MIXED = Profile(
    name="mixed",
    summary=(
        "the mixed load of the speed issue: no think time, 70% get_active_promocodes, 20% "
        "quotes, 10% use then cancel, all on one code (`make benchmark` runs it)"
    ),
    user_classes=("MixedUser",),
    users=50,
    run_time=30,
)

PROFILES = {profile.name: profile for profile in (DAY, PROMOTION, MIXED)}
