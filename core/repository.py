"""What every repository shares: the session of its unit of work and row-to-model reading."""

from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import AppError

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


class RowRepository(Repository, Generic[M]):
    """Get, add and change rows of one table by id; `add` refuses a taken `unique` value."""

    model: ClassVar[type]
    unique: ClassVar[str]
    taken: ClassVar[type[AppError]]

    @property
    def table(self) -> Table:
        return self.model.__table__

    def _stamps(self, *names: str) -> dict[str, Any]:
        return {name: func.now() for name in names if name in self.table.c}

    async def get(self, row_id: Any) -> M | None:
        return await self._first(select(self.table).where(self.table.c.id == row_id), self.model)

    async def add(self, values: dict[str, Any]) -> M:
        """The new row; raises `taken` when another row has its `unique` value."""
        row = await self._first(
            insert(self.table)
            .values(**values, **self._stamps("created_at", "updated_at"))
            .on_conflict_do_nothing(index_elements=[self.table.c[self.unique]])
            .returning(*self.table.c),
            self.model,
        )
        if row is None:
            raise self.taken()
        return row

    async def change(self, row_id: Any, values: dict[str, Any]) -> M | None:
        """The row after the change; None when there is no such row."""
        return await self._first(
            update(self.table)
            .where(self.table.c.id == row_id)
            .values(**values, **self._stamps("updated_at"))
            .returning(*self.table.c),
            self.model,
        )
