"""Background loops log an outage once when it starts and once when it ends."""

import logging

from redis.exceptions import ConnectionError as RedisConnectionError

from core.outage import Outage

log = logging.getLogger("tests.outage")


def test_an_outage_is_logged_once_however_many_retries_and_its_end_once(caplog):
    outage = Outage("relay loyalty", log)
    with caplog.at_level(logging.DEBUG, logger="tests.outage"):
        for _ in range(20):
            outage.note(RedisConnectionError("Connection refused"))
        outage.recovered()
        outage.recovered()  # no outage any more: nothing to say

    loud = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [(r.levelname, r.getMessage().split(" (")[0]) for r in loud] == [
        ("WARNING", "relay loyalty: redis not answering"),
        ("INFO", loud[1].getMessage()),
    ]
    assert loud[0].dependency == "redis" and loud[0].component == "relay loyalty"
    assert "recovered after" in loud[1].getMessage() and "20 retries" in loud[1].getMessage()
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 19


def test_a_defect_is_logged_once_with_its_traceback(caplog):
    outage = Outage("reaper", log)
    with caplog.at_level(logging.INFO, logger="tests.outage"):
        for _ in range(3):
            outage.note(KeyError("a bug"))
    [record] = caplog.records
    assert record.levelname == "ERROR" and record.exc_info is not None


def test_the_backoff_grows_with_jitter_and_stays_bounded():
    outage = Outage("x", log, base=0.1, cap=5.0)
    delays = [outage.note(RedisConnectionError()) for _ in range(12)]
    assert 0.05 <= delays[0] <= 0.1
    assert 0.1 <= delays[1] <= 0.2
    assert all(2.5 <= d <= 5.0 for d in delays[8:])
    outage.recovered()
    assert outage.note(RedisConnectionError()) <= 0.1
