"""compose.yml, the Dockerfile and the nginx gateway, checked without a Docker engine.

Each check reads the files as Docker and nginx would and compares them with the code:
commands start modules that exist, environment variables are settings the code reads,
ports and routes are the ones of the public contract (API.md).
"""

import ast
import importlib.util
import ipaddress
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from core.addresses import parse_networks
from core.config import Settings
from scripts.processes import HTTP_SERVICES, http_command

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
NGINX_CONF = (ROOT / "deploy" / "nginx.conf").read_text()

# compose service -> the process of scripts/processes.py (ports of API.md)
HTTP_SERVICE_OF = {
    "auth": "auth",
    "command-api": "command_api",
    "query-api": "query_api",
    "admin": "admin",
}
GATEWAY_PORT = 8000
# Variables read by the images of Postgres and Locust rather than by our Settings.
FOREIGN_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "LOCUST_LOGLEVEL"}
SETTINGS_VARIABLES = {name.upper() for name in Settings.model_fields}


def as_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else list(command)


def our_image(service: dict) -> bool:
    return "build" in service


def long_running(name: str) -> bool:
    service = SERVICES[name]
    return service.get("restart") != "no" and "profiles" not in service


def python_module(argv: list[str]) -> str | None:
    """`python -m X ...` -> X."""
    if len(argv) >= 3 and argv[0] in ("python", "python3") and argv[1] == "-m":
        return argv[2]
    return None


def module_source(module: str) -> str:
    try:
        spec = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # its parent package is missing
        spec = None
    assert spec is not None and spec.origin, f"no module {module} in the repo"
    origin = Path(spec.origin)
    if origin.name == "__init__.py":
        main = origin.parent / "__main__.py"
        assert main.exists(), f"`python -m {module}` needs {main}"
        origin = main
    assert ROOT in origin.parents, f"{module} resolves outside the repo: {origin}"
    return origin.read_text()


def assert_runnable(argv: list[str]) -> None:
    """The command starts a module of this repo: `python -m pkg` or uvicorn `module:app`."""
    module = python_module(argv)
    assert module, f"not a `python -m` command: {argv}"
    if module != "uvicorn":
        module_source(module)
        return
    app_path = next(arg for arg in argv[3:] if ":" in arg and not arg.startswith("-"))
    app_module, attribute = app_path.split(":")
    tree = ast.parse(module_source(app_module))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in assigned, f"{app_module} defines no `{attribute}`"


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def healthcheck_argv(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return shlex.split(test)
    if test[0] == "CMD-SHELL":
        return shlex.split(test[1])
    assert test[0] == "CMD", test
    return test[1:]


# ---- compose.yml -------------------------------------------------------------------------


def test_compose_has_every_service_of_the_platform():
    expected = {"auth-db", "loyalty-db", "redis", "migrate", "workers", "gateway", "load"}
    assert expected | set(HTTP_SERVICE_OF) <= set(SERVICES)


@pytest.mark.parametrize("name", [n for n, s in SERVICES.items() if our_image(s)])
def test_every_command_of_our_image_runs_a_module_that_exists(name):
    assert_runnable(as_argv(SERVICES[name]["command"]))


def test_workers_run_python_m_workers():
    assert as_argv(SERVICES["workers"]["command"]) == ["python", "-m", "workers"]


def test_migrate_runs_the_setup_script():
    assert python_module(as_argv(SERVICES["migrate"]["command"])) == "scripts.setup"


@pytest.mark.parametrize("name", list(SERVICES))
def test_every_environment_variable_is_a_setting_or_an_image_variable(name):
    environment = SERVICES[name].get("environment", {})
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    unknown = set(environment) - SETTINGS_VARIABLES - FOREIGN_VARIABLES
    assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


@pytest.mark.parametrize("name", [*HTTP_SERVICE_OF, "workers", "migrate"])
def test_our_processes_get_the_urls_of_the_compose_databases_and_redis(name):
    environment = SERVICES[name]["environment"]
    assert "@auth-db:5432/" in environment["AUTH_DATABASE_URL"]
    assert "@loyalty-db:5432/" in environment["LOYALTY_DATABASE_URL"]
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")


def test_only_auth_gets_the_private_key_variable():
    holders = {n for n, s in SERVICES.items() if "JWT_PRIVATE_KEY" in s.get("environment", {})}
    assert holders == {"auth"}


@pytest.mark.parametrize(
    ("name", "target"),
    [(n, t) for n, s in SERVICES.items() for t in s.get("depends_on", {})],
)
def test_depends_on_targets_exist_and_can_satisfy_the_condition(name, target):
    assert target in SERVICES, f"{name} depends on unknown service {target}"
    condition = SERVICES[name]["depends_on"][target]["condition"]
    if condition == "service_healthy":
        assert "healthcheck" in SERVICES[target], f"{target} has no healthcheck"
    else:
        assert condition == "service_completed_successfully"
        assert SERVICES[target].get("restart") == "no", f"{target} is not a one-shot service"


@pytest.mark.parametrize("name", [n for n in SERVICES if n not in ("migrate", "load")])
def test_every_long_running_service_has_a_healthcheck(name):
    assert long_running(name)
    assert healthcheck_argv(SERVICES[name])


def test_services_of_our_image_wait_for_migrate_and_healthy_dependencies():
    for name in [*HTTP_SERVICE_OF, "workers"]:
        depends_on = SERVICES[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        for dependency in ("auth-db", "loyalty-db", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)


@pytest.mark.parametrize("name", list(HTTP_SERVICE_OF))
def test_http_services_listen_and_publish_the_ports_of_the_contract(name):
    _app, port = HTTP_SERVICES[HTTP_SERVICE_OF[name]]
    argv = as_argv(SERVICES[name]["command"])
    assert option(argv, "--port") == str(port)
    assert option(argv, "--host") == "0.0.0.0"
    published = [str(p).rsplit(":", 1)[-1] for p in SERVICES[name]["ports"]]
    assert published == [str(port)]


@pytest.mark.parametrize("name", list(HTTP_SERVICE_OF))
def test_http_healthchecks_ask_their_own_health_endpoint(name):
    _app, port = HTTP_SERVICES[HTTP_SERVICE_OF[name]]
    check = " ".join(healthcheck_argv(SERVICES[name]))
    assert f"http://127.0.0.1:{port}/health" in check


def test_workers_healthcheck_runs_a_module_that_exists():
    assert_runnable(healthcheck_argv(SERVICES["workers"]))


def test_databases_are_postgres_15_checked_with_pg_isready():
    for name, database in (("auth-db", "auth"), ("loyalty-db", "loyalty")):
        service = SERVICES[name]
        assert service["image"].startswith("postgres:15")
        assert healthcheck_argv(service)[0] == "pg_isready"
        assert service["environment"]["POSTGRES_DB"] == database
        assert any(v.endswith(":/var/lib/postgresql/data") for v in service["volumes"])


def test_redis_7_persists_with_aof_on_a_volume():
    service = SERVICES["redis"]
    assert service["image"].startswith("redis:7")
    argv = as_argv(service["command"])
    assert option(argv, "--appendonly") == "yes"
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert healthcheck_argv(service) == ["redis-cli", "ping"]


def test_gateway_is_nginx_on_8000_with_the_repo_config():
    service = SERVICES["gateway"]
    assert service["image"].startswith("nginx")
    assert [str(p).rsplit(":", 1)[-1] for p in service["ports"]] == [str(GATEWAY_PORT)]
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in service["volumes"]
    assert f"http://127.0.0.1:{GATEWAY_PORT}/health" in healthcheck_argv(service)


def test_load_runs_the_slo_gate_through_the_gateway_only_on_its_profile():
    service = SERVICES["load"]
    assert service["profiles"] == ["load"]
    argv = as_argv(service["command"])
    assert python_module(argv) == "loadtest"
    assert option(argv, "--gateway") == f"http://gateway:{GATEWAY_PORT}"


def test_named_volumes_are_declared():
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"


# ---- deploy/nginx.conf -------------------------------------------------------------------


def _blocks(kind: str) -> dict[str, str]:
    return dict(re.findall(rf"\b{kind}\s+(\S+(?:\s+\S+)?)\s*\{{([^{{}}]*)\}}", NGINX_CONF))


def nginx_upstreams() -> dict[str, str]:
    """upstream name -> "host:port" of its single server."""
    return {
        name: re.search(r"\bserver\s+(\S+);", body).group(1)
        for name, body in _blocks("upstream").items()
    }


def nginx_method_map() -> tuple[str, dict[str, str]]:
    (header, body), *_ = _blocks("map").items()
    source, variable = header.split()
    assert source == "$request_method"
    return variable, dict(re.findall(r"^\s*(\S+)\s+(\S+);", body, re.MULTILINE))


def nginx_locations() -> dict[str, str]:
    """prefix location -> its proxy_pass target (exact `=` locations left out)."""
    locations = {}
    for header, body in _blocks("location").items():
        match = re.search(r"\bproxy_pass\s+(\S+);", body)
        if match and not header.startswith("="):
            locations[header] = match.group(1)
    return locations


def route(method: str, path: str) -> str:
    """The compose service nginx sends this request to (longest prefix wins, as in nginx)."""
    prefix = max((p for p in nginx_locations() if path.startswith(p)), key=len)
    target = nginx_locations()[prefix].removeprefix("http://")
    variable, by_method = nginx_method_map()
    if target == variable:
        target = by_method.get(method, by_method["default"])
    host, port = nginx_upstreams()[target].split(":")
    assert host in SERVICES, f"upstream {target} points at unknown service {host}"
    _app, expected_port = HTTP_SERVICES[HTTP_SERVICE_OF[host]]
    assert int(port) == expected_port, f"{host} listens on {expected_port}, not {port}"
    return host


def declared_api_routes() -> list[tuple[str, str, str]]:
    """(method, path, compose service) of every `/api/` route the HTTP apps declare in their
    OpenAPI document, an id put in each path parameter."""
    routes = []
    for service, process in HTTP_SERVICE_OF.items():
        module, name = HTTP_SERVICES[process][0].split(":")
        app = getattr(importlib.import_module(module), name)
        for path, operations in app.openapi()["paths"].items():
            if path.startswith("/api/"):
                concrete = re.sub(r"{\w+}", "7", path)
                routes += [(method.upper(), concrete, service) for method in operations]
    return routes


@pytest.mark.parametrize(("method", "path", "service"), declared_api_routes())
def test_gateway_sends_every_api_route_to_the_service_that_declares_it(method, path, service):
    assert route(method, path) == service


# What no app declares: HEAD (answered as GET), a write method no route has yet, the console.
@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("HEAD", "/api/v1/loyalty/purchases", "query-api"),
        ("PUT", "/api/v1/loyalty/tariffs/1", "command-api"),
        ("GET", "/admin", "admin"),
        ("POST", "/admin/promocode/create", "admin"),
    ],
)
def test_gateway_routes_by_method_and_prefix(method, path, service):
    assert route(method, path) == service


def test_gateway_routes_nothing_else_to_a_service():
    assert set(nginx_locations()) == {"/api/v1/auth/", "/api/v1/loyalty/", "/admin"}


def test_gateway_proxies_to_the_upstreams_by_name_without_rewriting_the_path():
    # `proxy_pass http://upstream;` with no URI part passes the request path unchanged.
    for target in nginx_locations().values():
        assert re.fullmatch(r"http://\$?\w+", target), target


# ---- Dockerfile --------------------------------------------------------------------------


def dockerfile_stages() -> dict[str, list[tuple[str, str]]]:
    """stage name -> its instructions; the last stage (the default target) is also `""`."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            current = []
            parts = rest.split()
            stages[parts[2] if len(parts) > 2 else str(len(stages))] = current
        current.append((instruction, rest.strip()))
    stages[""] = current
    return stages


def test_dockerfile_builds_from_python_311_slim():
    assert dockerfile_stages()["base"][0] == ("FROM", "python:3.11-slim AS base")


def test_dockerfile_default_command_starts_an_api_that_exists():
    default = dockerfile_stages()[""]
    cmd = json.loads(next(rest for kind, rest in reversed(default) if kind == "CMD"))
    assert_runnable(cmd)
    assert option(cmd, "--host") == "0.0.0.0"


def test_dockerfile_runs_as_a_non_root_user():
    for name, stage in dockerfile_stages().items():
        if name == "base":
            continue
        users = [rest for kind, rest in stage if kind == "USER"]
        assert users and users[-1] not in ("root", "0"), f"stage {name or 'default'} runs as root"


def test_dockerfile_installs_the_project():
    runs = " ".join(rest for kind, rest in dockerfile_stages()["base"] if kind == "RUN")
    assert "pip install --no-deps -e ." in runs


def test_compose_build_targets_exist_in_the_dockerfile():
    stages = dockerfile_stages()
    for name, service in SERVICES.items():
        if our_image(service):
            assert service["build"]["target"] in stages, name


def test_gateway_overwrites_a_client_supplied_forwarded_for():
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    assert "$proxy_add_x_forwarded_for" not in conf


# ---- who the client is -------------------------------------------------------------------


def uvicorn_commands() -> dict[str, list[str]]:
    commands = {name: as_argv(SERVICES[name]["command"]) for name in HTTP_SERVICE_OF}
    default = dockerfile_stages()[""]
    commands["Dockerfile"] = json.loads(next(r for kind, r in reversed(default) if kind == "CMD"))
    commands["make run"] = http_command("auth.app:app", 8001)
    return commands


@pytest.mark.parametrize(
    "name", ["auth", "command-api", "query-api", "admin", "Dockerfile", "make run"]
)
def test_uvicorn_never_takes_the_client_address_from_a_header(name):
    # core.addresses alone reads X-Forwarded-For, and only from TRUSTED_PROXIES.
    argv = uvicorn_commands()[name]
    assert "--no-proxy-headers" in argv
    assert "--forwarded-allow-ips" not in argv and "--proxy-headers" not in argv


def test_the_services_trust_the_gateway_alone_at_its_fixed_address():
    gateway = SERVICES["gateway"]["networks"]["default"]["ipv4_address"]
    (pool,) = COMPOSE["networks"]["default"]["ipam"]["config"]
    address = ipaddress.ip_address(gateway)
    assert address in ipaddress.ip_network(pool["subnet"])
    assert address not in ipaddress.ip_network(pool["ip_range"]), "another container could take it"
    for name in [*HTTP_SERVICE_OF, "workers"]:
        trusted = parse_networks(SERVICES[name]["environment"]["TRUSTED_PROXIES"])
        assert trusted == (ipaddress.ip_network(gateway),), name


def test_the_gateway_does_not_publish_metrics():
    # /metrics answers on the service ports (127.0.0.1 and the compose network) only.
    assert not any("/metrics".startswith(prefix) for prefix in nginx_locations())
