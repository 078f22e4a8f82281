"""The circuit a request client opens when its dependency fails: refusals at once while it is
open, and `lost_dependency` naming the dependency (a 503 naming it)."""

import pytest

from core.circuit import Circuit, Unanswered
from core.dependencies import lost_dependency


def test_an_open_circuit_refuses_at_once_naming_its_dependency():
    circuit = Circuit("redis", open_seconds=60)
    circuit.check()  # closed: nothing happens
    circuit.open()
    with pytest.raises(Unanswered) as refused:
        circuit.check()
    assert lost_dependency(refused.value) == "redis"


def test_a_circuit_closes_when_told_or_when_its_moment_is_over():
    told = Circuit("postgres", open_seconds=60)
    told.open()
    told.close()
    told.check()
    over = Circuit("postgres", open_seconds=0)
    over.open()
    assert not over.is_open
    over.check()
