"""`python -m auth create-user --email E --password P --role user|operator|admin`."""

import argparse
import asyncio
import sys

from auth import service
from core.errors import AppError
from core.security import ROLES


async def create_user(email: str, password: str, role: str) -> str:
    user, created = await service.create_or_update_user(email, password, role)
    verb = "created" if created else "updated"
    return f"{verb} {role} {user.email} ({user.id})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create-user", help="create an account, or update its password and role"
    )
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--role", choices=ROLES, default="user")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(create_user(args.email, args.password, args.role)))
    except AppError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    return 0
