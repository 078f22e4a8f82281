"""Where the load goes: the base URLs of auth, command_api and query_api (or one gateway)."""

import os
from dataclasses import dataclass

from scripts.processes import HTTP_SERVICES

AUTH = "/api/v1/auth"
LOYALTY = "/api/v1/loyalty"


def _local(service: str) -> str:
    """The address `make run` gives the service."""
    return f"http://127.0.0.1:{HTTP_SERVICES[service][1]}"


DEFAULT_AUTH_URL = _local("auth")
DEFAULT_COMMAND_URL = _local("command_api")
DEFAULT_QUERY_URL = _local("query_api")

# How the gate hands the targets, the seed file and the rate to the Locust process.
ENV_AUTH_URL = "LOADTEST_AUTH_URL"
ENV_COMMAND_URL = "LOADTEST_COMMAND_URL"
ENV_QUERY_URL = "LOADTEST_QUERY_URL"
ENV_SEED_FILE = "LOADTEST_SEED_FILE"
ENV_TASK_RATE = "LOADTEST_TASKS_PER_SECOND_PER_USER"  # unset: each profile's own pace


@dataclass(frozen=True)
class Targets:
    auth: str = DEFAULT_AUTH_URL
    command: str = DEFAULT_COMMAND_URL
    query: str = DEFAULT_QUERY_URL

    @classmethod
    def gateway(cls, url: str) -> "Targets":
        """Everything through one address: the nginx gateway routes by path and method."""
        return cls(auth=url, command=url, query=url)

    @classmethod
    def from_env(cls) -> "Targets":
        return cls(
            auth=os.environ.get(ENV_AUTH_URL, DEFAULT_AUTH_URL),
            command=os.environ.get(ENV_COMMAND_URL, DEFAULT_COMMAND_URL),
            query=os.environ.get(ENV_QUERY_URL, DEFAULT_QUERY_URL),
        )

    def as_env(self) -> dict[str, str]:
        return {ENV_AUTH_URL: self.auth, ENV_COMMAND_URL: self.command, ENV_QUERY_URL: self.query}

    def auth_url(self, path: str) -> str:
        return f"{self.auth.rstrip('/')}{AUTH}{path}"

    def command_url(self, path: str) -> str:
        return f"{self.command.rstrip('/')}{LOYALTY}{path}"

    def query_url(self, path: str) -> str:
        return f"{self.query.rstrip('/')}{LOYALTY}{path}"
