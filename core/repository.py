"""What every repository shares: the session of its unit of work and row-to-model reading."""

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

M = TypeVar("M")


class Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _first(self, statement: Any, model: type[M]) -> M | None:
        """The first row as a `model`, or None."""
        row = (await self.session.execute(statement)).first()
        return None if row is None else model(**row._mapping)

    async def _scalars(self, statement: Any) -> list[Any]:
        return list((await self.session.execute(statement)).scalars())
