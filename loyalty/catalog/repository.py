"""SQL of the catalog: tariffs, promo codes and batches."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import String, bindparam, func, insert, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from core.repository import Repository, RowRepository
from loyalty.catalog.generator import CodeShape
from loyalty.domain.errors import PromocodeCodeTaken, TariffNameTaken
from loyalty.models import Promocode, PromocodeBatch, Tariff

tariffs = Tariff.__table__
promocodes = Promocode.__table__
batches = PromocodeBatch.__table__


class TariffRepository(RowRepository[Tariff]):
    model, unique, taken = Tariff, "name", TariffNameTaken

    async def by_name(self, name: str) -> Tariff | None:
        return await self._first(select(tariffs).where(tariffs.c.name == name), Tariff)

    async def existing_ids(self, tariff_ids: Sequence[int]) -> set[int]:
        return set(await self._scalars(select(tariffs.c.id).where(tariffs.c.id.in_(tariff_ids))))


class PromocodeRepository(RowRepository[Promocode]):
    model, unique, taken = Promocode, "code", PromocodeCodeTaken

    async def by_code(self, code: str) -> Promocode | None:
        return await self._first(select(promocodes).where(promocodes.c.code == code), Promocode)

    async def change(self, promocode_id: int, values: dict[str, Any]) -> Promocode | None:
        """Every UPDATE of a code bumps its version (read models keep the newest)."""
        return await super().change(promocode_id, {**values, "version": promocodes.c.version + 1})

    async def add_many(self, codes: Sequence[str], terms: dict[str, Any]) -> int:
        """Inserts the codes not taken yet, each with the same `terms` (one statement);
        returns how many were new."""
        code = func.unnest(bindparam("codes", type_=ARRAY(String))).column_valued("code")
        names = list(terms)
        rows = select(*(literal(terms[n], promocodes.c[n].type) for n in names), code)
        result = await self.session.execute(
            pg_insert(promocodes)
            .from_select([*names, "code"], rows)
            .on_conflict_do_nothing(index_elements=[promocodes.c.code]),
            {"codes": list(codes)},
        )
        return result.rowcount


class BatchRepository(Repository):
    async def add(self, values: dict[str, Any]) -> uuid.UUID:
        return (
            await self.session.execute(
                insert(batches).values(**values, created_at=func.now()).returning(batches.c.id)
            )
        ).scalar_one()

    async def codes(self, batch_id: uuid.UUID) -> list[str]:
        return await self._scalars(
            select(promocodes.c.code)
            .where(promocodes.c.batch_id == batch_id)
            .order_by(promocodes.c.id)
        )

    async def shapes_like(self, code: str) -> list[CodeShape]:
        """The shapes of the batches whose codes start like this one and are as long."""
        length = func.length(batches.c.prefix) + func.length(batches.c.pattern)
        rows = await self.session.execute(
            select(batches.c.prefix, batches.c.pattern)
            .distinct()
            .where(
                func.left(code, func.length(batches.c.prefix)) == batches.c.prefix,
                length == len(code),
                batches.c.pattern.is_not(None),
            )
        )
        return [CodeShape(prefix=r.prefix, pattern=r.pattern) for r in rows]
