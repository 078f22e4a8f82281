import pytest

from tests.support.read_side import ReadSideDriver


@pytest.fixture
async def side():
    """The read side driven in-process: `await side.settle()` projects every pending event."""
    driver = await ReadSideDriver().start()
    yield driver
    await driver.close()
