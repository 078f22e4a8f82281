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


def test_a_guarded_call_opens_the_circuit_on_its_failures_only():
    circuit = Circuit("redis", open_seconds=60)
    with pytest.raises(ValueError), circuit.guarding(ConnectionError):
        raise ValueError("a defect, not the dependency")
    assert not circuit.is_open
    with pytest.raises(ConnectionError), circuit.guarding(ConnectionError):
        raise ConnectionError("refused")
    assert circuit.is_open
    with pytest.raises(Unanswered), circuit.guarding(ConnectionError):
        pytest.fail("an open circuit does not call the dependency")
