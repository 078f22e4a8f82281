"""The one pipeline operation of the console: put a dead letter back on its stream.

Consumers dedupe on `event_id`, so a replay reaches only the consumers that never handled
the event (in practice, the group whose handler failed it). The dead letter leaves the
dead-letter stream in the same transaction (MULTI) as it goes back on its stream.
"""

from redis.asyncio import Redis

from admin import repository as repo
from core.streams import STREAM_MAXLEN

# What the dead-lettering added to the entry's own fields (`ConsumerGroupRunner`).
DEAD_LETTER_FIELDS = ("source_id", "group", "error")


class NoSuchDeadLetter(ValueError):
    pass


async def replay_dead_letter(redis: Redis, stream: str, entry_id: str) -> str:
    """The new entry id on `stream`."""
    letter = await repo.dead_letter(redis, stream, entry_id)
    if letter is None:
        raise NoSuchDeadLetter(f"no dead letter {entry_id} on {stream} (already replayed?)")
    fields = {k: v for k, v in letter.fields.items() if k not in DEAD_LETTER_FIELDS}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
        pipe.xdel(f"{stream}.dlq", entry_id)
        new_id, _ = await pipe.execute()
    return new_id
