"""Password hashing and policy.

argon2id (OWASP's minimum profile: 19 MiB, 2 passes, 1 lane, so two cores can still serve
logins under load); bcrypt is accepted for old hashes and upgraded on the next login.
"""

import asyncio
import unicodedata

from passlib.context import CryptContext

MIN_LENGTH = 8
MAX_LENGTH = 128

pwd_context = CryptContext(
    schemes=["argon2", "bcrypt"],
    deprecated="auto",
    argon2__memory_cost=19_456,
    argon2__rounds=2,
    argon2__parallelism=1,
)
# Verified against when the email is unknown, so the answer takes as long as for a real user.
DUMMY_HASH = pwd_context.hash("dummy-password-for-timing")
# What a deleted account keeps instead of its hash: no password matches it.
NO_PASSWORD = "!"


def normalised(password: str) -> str:
    """One password however the keyboard composed its accents: NFC before hashing and before
    verifying, on every path (API, create-user)."""
    return unicodedata.normalize("NFC", password)


def hash_password(password: str) -> str:
    return pwd_context.hash(normalised(password))


def password_problems(password: str, email: str | None = None) -> list[str]:
    """What is wrong with a new password; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"shorter than {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"longer than {MAX_LENGTH} characters")
    if password.isdigit():
        problems.append("only digits")
    if email and password.strip().lower() == email.strip().lower():
        problems.append("the same as the email")
    return problems


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one should be upgraded).

    Without a stored hash (unknown account, or `NO_PASSWORD` of a deleted one) the dummy hash
    is checked instead, so the answer costs the same time and never matches.
    """
    if password_hash is None or password_hash == NO_PASSWORD:
        pwd_context.verify(normalised(password), DUMMY_HASH)
        return False, None
    return pwd_context.verify_and_update(normalised(password), password_hash)


async def hash_password_async(password: str) -> str:
    # argon2 is CPU-bound; a thread keeps the event loop answering other requests meanwhile.
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(
    password: str, password_hash: str | None
) -> tuple[bool, str | None]:
    return await asyncio.to_thread(verify_password, password, password_hash)
