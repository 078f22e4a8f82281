"""The SQLModel tables and the Alembic migrations describe the same schema, for both databases:
after `upgrade head`, autogenerate finds nothing to add (the diff a new
`alembic -n <section> revision --autogenerate` would write is empty)."""

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from auth.models import AuthModel
from core.db import get_engine
from loyalty.models import LoyaltyModel
from scripts.setup import ROOT, migrate

DATABASES = {
    "loyalty": (LoyaltyModel.metadata, "loyalty_database_url"),
    "auth": (AuthModel.metadata, "auth_database_url"),
}
# Stricter than env.py (which compares types only): server defaults too. Both find nothing today.
COMPARE = {"compare_type": True, "compare_server_default": True}


def head(section: str) -> str:
    config = Config(str(ROOT / "alembic.ini"), ini_section=section)
    config.set_main_option("script_location", str(ROOT / config.get_main_option("script_location")))
    return ScriptDirectory.from_config(config).get_current_head()


@pytest.mark.parametrize("section", list(DATABASES))
async def test_autogenerate_finds_no_difference_between_models_and_migrations(settings, section):
    metadata, url_setting = DATABASES[section]
    await asyncio.to_thread(migrate, section)  # what `make test` did already: a no-op at head

    def compare(connection, target: MetaData) -> tuple[str | None, list]:
        context = MigrationContext.configure(connection, opts=COMPARE)
        return context.get_current_revision(), compare_metadata(context, target)

    async with get_engine(getattr(settings, url_setting)).connect() as conn:
        revision, diff = await conn.run_sync(compare, metadata)
        _, against_nothing = await conn.run_sync(compare, MetaData())

    assert revision == head(section)
    assert diff == [], f"models and migrations of {section} differ: {diff}"
    # The comparison does look at this database: against no models, every table would go.
    dropped = {change[1].name for change in against_nothing if change[0] == "remove_table"}
    assert dropped == set(metadata.tables)
