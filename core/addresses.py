"""The caller's address, the one every per-address limit counts by.

A request's direct peer is the caller, unless that peer is one of the configured proxies
(`TRUSTED_PROXIES`, addresses or CIDR blocks, empty by default: nobody is trusted). Only then
is `X-Forwarded-For` read, from its right end: each hop a trusted proxy added is skipped, and
the first address no trusted proxy vouches for is the caller. A client that writes its own
`X-Forwarded-For` therefore changes nothing: on a service port its peer is itself, and behind
the gateway its header is overwritten (`deploy/nginx.conf`) or, if passed on, sits left of
the address the gateway appended.

uvicorn runs with `--no-proxy-headers` (`scripts/processes.py`, `compose.yml`), so the peer
seen here is the socket's peer, never an address uvicorn took from a header.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request

from core.config import get_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"


def parse_networks(spec: str | Iterable[str]) -> tuple[Network, ...]:
    """`"10.0.0.1, 172.28.0.0/16"` (or a list of them) -> networks; ValueError when one is not
    an address or a CIDR block."""
    items = spec.split(",") if isinstance(spec, str) else spec
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in network for network in proxies)


def resolve_client_address(
    peer: str | None, forwarded_for: Sequence[str], proxies: Sequence[Network]
) -> str:
    """The caller's address: `peer` (the socket's), or, while the address at hand is a trusted
    proxy, the hop that proxy added to `forwarded_for` (every `X-Forwarded-For` header, in
    order). A hop that is not an address ends the walk at the proxy that passed it."""
    current = peer or UNKNOWN
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        if not _trusted(current, proxies) or _address(hop) is None:
            break
        current = str(_address(hop))
    return current


@lru_cache
def _configured_proxies(spec: str) -> tuple[Network, ...]:
    return parse_networks(spec)


def client_address(request: Request) -> str:
    """The caller's address for this request (see the module)."""
    proxies = _configured_proxies(get_settings().trusted_proxies)
    peer = request.client.host if request.client else None
    if not proxies:
        return peer or UNKNOWN
    return resolve_client_address(peer, request.headers.getlist("x-forwarded-for"), proxies)


ClientAddress = Annotated[str, Depends(client_address)]
