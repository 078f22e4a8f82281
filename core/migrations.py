"""What both Alembic histories share: the body of their env.py files (`run_migrations`) and
the tables core defines for several databases (`create_core_table`, `drop_core_table`)."""

import asyncio
from collections.abc import Callable

from alembic import context, op
from sqlalchemy import MetaData, Table, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from core.outbox import outbox_context_column


def run_migrations(metadata: MetaData, url: str) -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())


TableBuilder = Callable[[MetaData], Table]


def create_core_table(build: TableBuilder) -> None:
    """Creates a table core defines with its indexes: `create_core_table(first_outbox_table)`.
    The builder an old revision passes must stay as it was (`first_outbox_table` is the
    outbox's frozen first definition); a change is altered in by a new revision."""
    op.get_context().impl.create_table(build(MetaData()))


def drop_core_table(build: TableBuilder) -> None:
    """Drops a table `create_core_table` created (its indexes go with it)."""
    op.drop_table(build(MetaData()).name)


def add_outbox_context() -> None:
    """The outbox's `context` column (request id, trace), in every database with an outbox."""
    op.add_column("outbox", outbox_context_column())


def drop_outbox_context() -> None:
    op.drop_column("outbox", "context")
