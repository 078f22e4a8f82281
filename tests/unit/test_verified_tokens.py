"""A verified token is remembered until it expires, and only that long."""

from core.security import VerifiedTokens


def test_a_token_is_remembered_until_its_expiry():
    tokens = VerifiedTokens()
    tokens.put("t", {"exp": 100.0, "sub": "u"})
    assert tokens.get("t", now=99.9) == {"exp": 100.0, "sub": "u"}
    assert tokens.get("t", now=100.0) is None  # expired: verified again, and refused then
    assert tokens.get("t", now=50.0) is None  # and forgotten


def test_the_least_recently_used_token_goes_first():
    tokens = VerifiedTokens(size=2)
    tokens.put("a", {"exp": 10.0})
    tokens.put("b", {"exp": 10.0})
    assert tokens.get("a", now=0) is not None  # a is now the most recent
    tokens.put("c", {"exp": 10.0})
    assert tokens.get("b", now=0) is None
    assert tokens.get("a", now=0) is not None and tokens.get("c", now=0) is not None
