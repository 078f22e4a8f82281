"""The per-email backoff of the login policy (`auth.rules.login_backoff_seconds`)."""

import pytest

from auth.rules import login_backoff_seconds


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(0, 0), (9, 0), (10, 1), (11, 2), (12, 4), (14, 16), (15, 30), (1_000, 30)],
)
def test_nothing_below_the_threshold_then_doubling_up_to_the_cap(failures, wait):
    assert login_backoff_seconds(failures, after=10, cap=30) == wait
