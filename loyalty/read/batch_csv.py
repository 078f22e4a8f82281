"""A generated batch as CSV, streamed from Postgres: the one format query_api and the admin
both serve (columns: `postgres.BATCH_CSV_COLUMNS`)."""

import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from loyalty.read import postgres


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


async def batch_csv_lines(engine: AsyncEngine, batch_id: uuid.UUID) -> AsyncIterator[str]:
    """The header, then the codes a chunk at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(postgres.BATCH_CSV_COLUMNS)
    yield _drain(buffer)
    async with postgres.read_only(engine) as conn:
        async for rows in postgres.batch_csv_rows(conn, batch_id):
            writer.writerows([_cell(v) for v in row] for row in rows)
            yield _drain(buffer)


async def batch_csv(engine: AsyncEngine, batch_id: uuid.UUID) -> str:
    return "".join([lines async for lines in batch_csv_lines(engine, batch_id)])
