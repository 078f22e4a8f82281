import pytest

from tests.support.platform import Platform


@pytest.fixture(scope="session")
def platform():
    running = Platform().start()
    yield running
    running.stop()
    print(f"platform logs kept in {running.log_dir}")
