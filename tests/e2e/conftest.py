import pytest

from tests.support.platform import RUNNING, Platform


@pytest.fixture(scope="session")
def running_platform(request):
    running = Platform().start()
    request.session.stash[RUNNING] = running
    yield running
    del request.session.stash[RUNNING]
    running.stop()
    print(f"platform logs kept in {running.log_dir}")


@pytest.fixture
async def platform(running_platform):
    """The session's platform, its workers running (integration tests pause them) and caught
    up with what happened meanwhile."""
    return await running_platform.ready()
