"""One projector in an OS process of its own: `python -m tests.support.projector_process STREAM
GROUP` runs the projector component of `python -m workers` (`workers.main.consumer` around
`Projector.from_settings`) on that stream and group until SIGTERM.

The whole workers process would also run the relays, the user sync and the reaper on the
test databases, acting on other tests' rows; this one touches only the stream it is given and
the read models.
"""

import asyncio
import signal
import sys

from core.config import get_settings
from workers.main import consumer
from workers.projector import Projector


async def project(stream: str, group: str) -> None:
    settings = get_settings()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    projector = Projector.from_settings(settings)
    await consumer(settings, stream, group, projector.handle).run(stop)


if __name__ == "__main__":
    asyncio.run(project(*sys.argv[1:3]))
