"""How `make run` starts the HTTP services: one uvicorn process each unless sized otherwise."""

from scripts.processes import DEFAULT_WORKERS, http_command, workers_of


def test_a_service_runs_its_default_number_of_workers_unless_its_variable_says_otherwise():
    assert workers_of("command_api", env={}) == DEFAULT_WORKERS["command_api"]
    assert workers_of("command_api", env={"COMMAND_API_WORKERS": "3"}) == 3
    assert workers_of("query_api", env={"COMMAND_API_WORKERS": "3"}) == DEFAULT_WORKERS["query_api"]


def test_uvicorn_is_asked_for_workers_only_when_there_is_more_than_one():
    assert "--workers" not in http_command("query_api.app:app", 8003, workers=1)
    argv = http_command("command_api.app:app", 8002, workers=2)
    assert argv[argv.index("--workers") + 1] == "2"
