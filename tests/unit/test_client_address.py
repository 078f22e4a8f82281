"""Who the client is (`core.addresses`): X-Forwarded-For counts only behind a trusted proxy."""

import pytest
from pydantic import ValidationError

from core.addresses import parse_networks, resolve_client_address
from core.config import Settings

GATEWAY = parse_networks("172.28.0.10")
GATEWAYS = parse_networks("10.0.0.0/24, 2001:db8::/32")


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert resolve_client_address("203.0.113.9", ["1.2.3.4"], ()) == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client():
    assert resolve_client_address("203.0.113.9", ["1.2.3.4"], GATEWAY) == "203.0.113.9"


def test_behind_the_trusted_proxy_the_address_it_appended_is_the_client():
    assert resolve_client_address("172.28.0.10", ["198.51.100.7"], GATEWAY) == "198.51.100.7"


def test_what_the_client_wrote_itself_left_of_the_proxys_hop_is_ignored():
    spoofed = ["1.2.3.4, 5.6.7.8", "198.51.100.7"]
    assert resolve_client_address("172.28.0.10", spoofed, GATEWAY) == "198.51.100.7"


def test_hops_of_trusted_proxies_are_skipped_from_the_right():
    chain = ["1.2.3.4, 198.51.100.7, 10.0.0.5"]
    assert resolve_client_address("10.0.0.4", chain, GATEWAYS) == "198.51.100.7"
    assert resolve_client_address("2001:db8::1", ["2001:db8::2, 2001:db9::7"], GATEWAYS) == (
        "2001:db9::7"
    )


def test_a_hop_that_is_not_an_address_stops_at_the_proxy_that_passed_it():
    assert resolve_client_address("172.28.0.10", ["evil\x00, nonsense"], GATEWAY) == "172.28.0.10"


def test_a_trusted_proxy_without_the_header_is_itself_the_client():
    assert resolve_client_address("172.28.0.10", [], GATEWAY) == "172.28.0.10"


def test_no_peer_at_all_is_unknown():
    assert resolve_client_address(None, ["1.2.3.4"], GATEWAY) == "unknown"


def test_trusted_proxies_are_addresses_or_cidr_blocks_and_a_typo_refuses_to_start():
    assert Settings(trusted_proxies="10.0.0.1, 172.16.0.0/12").trusted_proxies
    assert Settings().trusted_proxies == ""
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.1, gateway")
