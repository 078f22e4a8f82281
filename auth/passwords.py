"""Password hashing: argon2id, with bcrypt accepted for old hashes and upgraded on login."""

from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")
# Verified against when the email is unknown, so the answer takes as long as for a real user.
DUMMY_HASH = pwd_context.hash("dummy-password-for-timing")


def hash_password(password: str) -> str:
    return pwd_context.hash(password)
