import pytest

from tests.support.platform import RUNNING
from tests.support.read_side import ReadSideDriver


@pytest.fixture(autouse=True)
def _no_platform_workers(request):
    """The e2e platform's workers (relays, consumers, reaper) would act on this test's rows
    while it runs: an integration test runs its components in-process and alone."""
    running = request.session.stash.get(RUNNING, None)
    if running is not None:
        running.pause_workers()


@pytest.fixture
async def side():
    """The read side driven in-process: `await side.settle()` projects every pending event."""
    driver = await ReadSideDriver().start()
    yield driver
    await driver.close()
