"""The load-test gate's decision: Locust statistics in, pass or fail with reasons out."""

from loadtest.slo import EndpointStats, Slo, judge, read_locust_stats, render_table

SLO = Slo(p95_ms=200, p99_ms=500, max_error_rate=0.01)


def stats(name="GET /x", requests=1000, failures=0, p95=50.0, p99=90.0) -> EndpointStats:
    method, _, path = name.partition(" ")
    return EndpointStats(method, path, requests, failures, 10.0, p95, p99, p99 + 10)


def total_of(*endpoints: EndpointStats) -> EndpointStats:
    return stats(
        " Aggregated",
        requests=sum(e.requests for e in endpoints),
        failures=sum(e.failures for e in endpoints),
        p95=max(e.p95_ms for e in endpoints),
        p99=max(e.p99_ms for e in endpoints),
    )


def test_fast_error_free_run_passes():
    endpoints = [stats("GET /a"), stats("POST /b", p95=199, p99=500)]
    verdict = judge(endpoints, total_of(*endpoints), SLO)
    assert verdict.passed
    assert verdict.violations == []


def test_p95_at_the_bound_fails_and_names_the_endpoint():
    endpoints = [stats("GET /a"), stats("POST /slow", p95=200, p99=300)]
    verdict = judge(endpoints, total_of(*endpoints), SLO)
    assert not verdict.passed
    assert any(v.startswith("POST /slow: p95 200 ms") for v in verdict.violations)
    assert not any(v.startswith("GET /a") for v in verdict.violations)


def test_p99_above_its_bound_fails_even_with_a_good_p95():
    endpoints = [stats("GET /tail", p95=120, p99=501)]
    verdict = judge(endpoints, total_of(*endpoints), SLO)
    assert not verdict.passed
    assert any("GET /tail: p99 501 ms" in v for v in verdict.violations)


def test_error_rate_over_one_percent_fails_at_one_percent_passes():
    at_bound = [stats("GET /a", requests=1000, failures=10)]
    over = [stats("GET /a", requests=1000, failures=11)]
    assert judge(at_bound, total_of(*at_bound), SLO).passed
    verdict = judge(over, total_of(*over), SLO)
    assert not verdict.passed
    assert any("errors 1.10%" in v for v in verdict.violations)


def test_a_broken_rare_endpoint_fails_although_the_overall_error_rate_is_low():
    endpoints = [stats("GET /busy", requests=10_000), stats("GET /rare", requests=20, failures=20)]
    total = total_of(*endpoints)
    assert total.error_rate < 0.01
    verdict = judge(endpoints, total, SLO)
    assert not verdict.passed
    assert any(v.startswith("GET /rare: errors") for v in verdict.violations)


def test_a_run_without_requests_fails():
    verdict = judge([], stats(" Aggregated", requests=0), SLO)
    assert not verdict.passed
    assert verdict.violations == ["no request was made"]


LOCUST_CSV = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,\
50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
GET,/loyalty/purchases,400,0,12,14.2,3,180,210,6.6,0.0,12,13,15,16,20,31,60,95,180,180,180
POST,/loyalty/use_promocode,100,2,40,52.0,9,900,150,1.6,0.03,40,45,50,55,90,230,400,610,900,900,900
GET,/loyalty/never,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,500,2,15,21.8,3,900,198,8.2,0.03,15,17,20,22,40,60,200,400,900,900,900
"""


def test_reads_locust_csv_and_judges_it(tmp_path):
    path = tmp_path / "locust_stats.csv"
    path.write_text(LOCUST_CSV)
    endpoints, total = read_locust_stats(path)
    assert [e.label for e in endpoints] == [
        "GET /loyalty/purchases",
        "POST /loyalty/use_promocode",
        "GET /loyalty/never",
    ]
    use = endpoints[1]
    assert (use.requests, use.failures, use.p95_ms, use.p99_ms) == (100, 2, 230, 610)
    assert (total.label, total.requests, total.failures) == ("Aggregated", 500, 2)

    verdict = judge(endpoints, total, SLO)
    assert not verdict.passed
    assert len([v for v in verdict.violations if "use_promocode" in v]) == 3  # p95, p99, errors
    assert not any("purchases" in v or "never" in v for v in verdict.violations)

    table = render_table(endpoints, total, SLO)
    purchases_row = next(line for line in table.splitlines() if "purchases" in line)
    use_row = next(line for line in table.splitlines() if "use_promocode" in line)
    assert purchases_row.endswith("ok")
    assert use_row.endswith("MISSED")
