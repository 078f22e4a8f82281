"""Password hashing and policy, and the account rules: pure, no I/O."""

import unicodedata
import uuid

import pytest
from passlib.hash import bcrypt

from auth import passwords, rules
from auth.errors import UnknownRole, UserDeleted
from auth.passwords import DUMMY_HASH, hash_password, password_problems, verify_password
from core.errors import Forbidden, NotAuthenticated


def test_new_hashes_are_argon2id():
    assert hash_password("correct horse 1").startswith("$argon2id$")


def test_right_password_matches_and_needs_no_upgrade():
    stored = hash_password("correct horse 1")
    assert verify_password("correct horse 1", stored) == (True, None)
    assert verify_password("wrong horse 1", stored) == (False, None)


def test_bcrypt_hash_is_accepted_and_an_argon2id_replacement_offered():
    stored = bcrypt.using(rounds=4).hash("old-password-1")
    matches, upgraded = verify_password("old-password-1", stored)
    assert matches
    assert upgraded is not None and upgraded.startswith("$argon2id$")
    assert verify_password("old-password-1", upgraded) == (True, None)


def test_wrong_password_on_a_bcrypt_hash_offers_no_upgrade():
    stored = bcrypt.using(rounds=4).hash("old-password-1")
    assert verify_password("not-it-at-all", stored) == (False, None)


def test_unknown_account_is_checked_against_the_dummy_hash_and_never_matches():
    assert DUMMY_HASH.startswith("$argon2id$")
    assert verify_password("dummy-password-for-timing", None) == (False, None)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short1!", "shorter than 8 characters"),
        ("x" * 129, "longer than 128 characters"),
        ("1234567890", "only digits"),
        ("Someone@Example.com", "the same as the email"),
    ],
)
def test_policy_names_what_is_wrong(password, problem):
    assert problem in password_problems(password, "someone@example.com")


@pytest.mark.parametrize("password", ["abcdefgh", "12345678a", "x" * 128, "пароль-надёжный"])
def test_policy_accepts_reasonable_passwords(password):
    assert password_problems(password, "someone@example.com") == []


def test_only_known_roles_are_accepted():
    for role in ("user", "operator", "admin"):
        rules.ensure_role(role)
    with pytest.raises(UnknownRole):
        rules.ensure_role("superuser")


def test_blocked_account_is_refused_and_deleted_looks_unknown():
    assert rules.login_refusal("active") is None
    blocked = rules.login_refusal("blocked")
    assert isinstance(blocked, Forbidden) and blocked.code == "account_blocked"
    deleted = rules.login_refusal("deleted")
    assert isinstance(deleted, NotAuthenticated) and deleted.code == "invalid_credentials"


def test_status_changes_respect_roles():
    operator, admin, target = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rules.ensure_may_change_status(operator, "operator", target, "user", "active")
    rules.ensure_may_change_status(admin, "admin", target, "admin", "active")
    with pytest.raises(Forbidden):
        rules.ensure_may_change_status(operator, "operator", target, "admin", "active")
    with pytest.raises(Forbidden):
        rules.ensure_may_change_status(operator, "operator", operator, "operator", "active")
    with pytest.raises(UserDeleted):
        rules.ensure_may_change_status(operator, "operator", target, "user", "deleted")


def test_a_password_is_the_same_however_its_accents_were_composed():
    composed = "pässwörd-Élan"  # NFC: one code point per accented letter
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    stored = passwords.hash_password(composed)
    assert passwords.verify_password(decomposed, stored)[0]
    assert passwords.verify_password(composed, passwords.hash_password(decomposed))[0]
