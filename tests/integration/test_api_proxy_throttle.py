"""Brute-force protection of the API proxy (docs/proxy.md) against the real fleet, with the settings
the cell ships (20 failed authentications per client address per 60 s): a flood of bad tokens from
one address is refused with 429 before any TokenReview, the root's kube-apiserver sees no more
reviews than the allowance, a good token still works, and the address is served again after
``Retry-After``. Each test dials from its own 127.x source address, so no other test's address
is throttled."""

from __future__ import annotations

import secrets
import ssl
import statistics
import time

import httpx
import pytest
from fleet_procs import Fleet

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ALLOWANCE = 20  # the shipped --api-proxy-auth-failures (per --api-proxy-auth-failure-window, 60 s)
FLOOD = "127.0.0.31"
BYSTANDER = "127.0.0.32"


def dial_from(fleet: Fleet, source: str) -> httpx.Client:
    """A client whose TCP connection leaves from ``source``: the proxy (on 127.0.0.1) sees that peer."""
    ctx = ssl.create_default_context(cafile=str(fleet.ca_file()))
    return httpx.Client(base_url=fleet.proxy_url, timeout=30,
                        transport=httpx.HTTPTransport(verify=ctx, local_address=source))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def guess() -> dict[str, str]:
    """A new opaque token each time: past the negative cache, every one the proxy admits is a TokenReview."""
    return bearer(f"guess-{secrets.token_hex(16)}")


def reviews(fleet: Fleet) -> float:
    return sum(fleet.root.metric("lattice_api_proxy_tokenreviews_total", f'result="{result}"')
               for result in ("authenticated", "rejected", "error"))


def service_account_token(fleet: Fleet) -> str:
    root = fleet.planes["root"]
    root.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "throttle"}})
    root.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "probe", "namespace": "throttle"}})
    return fleet.sa_token("throttle", "probe")


def test_a_flood_of_bad_tokens_is_throttled_before_any_tokenreview(fleet: Fleet) -> None:
    good, fresh = service_account_token(fleet), fleet.sa_token("throttle", "probe")
    root = fleet.root
    with dial_from(fleet, FLOOD) as flood, dial_from(fleet, BYSTANDER) as bystander:
        assert flood.get("/clusters", headers=bearer(good)).status_code == 200  # the proxy has verified it
        before, throttled_before = reviews(fleet), root.metric("lattice_api_proxy_auth_throttled_total")
        started = time.monotonic()
        answers = [flood.get("/clusters/root/api/v1/namespaces", headers=guess()) for _ in range(25)]
        flood_seconds = time.monotonic() - started
        took = {code: statistics.median(r.elapsed.total_seconds() * 1000 for r in answers if r.status_code == code)
                for code in (401, 429)}
        # Right behind the flood (well inside the 3 s a try takes to come back):
        # what the client says about itself changes nothing, the key is the TLS connection's peer;
        spoofed = flood.get("/clusters", headers={**guess(), "X-Forwarded-For": BYSTANDER, "X-Real-IP": BYSTANDER,
                                                  "Forwarded": f"for={BYSTANDER}"})
        # the good token of the throttled address still works; a token it never showed waits like a guess;
        known = flood.get("/clusters", headers=bearer(good))
        unseen = flood.get("/clusters", headers=bearer(fresh))
        # the success gave nothing back;
        still = flood.get("/clusters", headers=guess())
        # another address is served (and reviewed) as usual.
        other = bystander.get("/clusters", headers=guess())
        reviewed = reviews(fleet) - before
        codes = [r.status_code for r in answers]
        assert codes[:ALLOWANCE] == [401] * ALLOWANCE and codes[-1] == 429, codes
        # A try comes back every 3 s: a slow machine may have earned one during the flood, never more.
        assert codes.count(401) <= ALLOWANCE + int(flood_seconds / 3), (codes, flood_seconds)
        assert [spoofed.status_code, known.status_code, unseen.status_code, still.status_code,
                other.status_code] == [429, 200, 429, 429, 401]
        assert known.json()["user"]["username"] == "system:serviceaccount:throttle:probe"
        # The apiserver saw the allowance (and the bystander's one guess), not the flood.
        assert reviewed == codes.count(401) + 1, (reviewed, codes)
        assert root.metric("lattice_api_proxy_auth_throttled_total") - throttled_before == codes.count(429) + 3
        assert root.metric("lattice_api_proxy_auth_throttled_clients") >= 1
        wait = int(still.headers["retry-after"])
        assert 1 <= wait <= 3, wait  # one try back every 60 s / 20
        status = still.json()
        assert (status["kind"], status["reason"], status["code"]) == ("Status", "TooManyRequests", 429)
        assert "authentication failures are throttled" in status["message"] and FLOOD in status["message"]
        assert status["details"]["retryAfterSeconds"] == wait
        # After Retry-After the address is served again: the new good token, then a guess is reviewed.
        time.sleep(wait)
        assert flood.get("/clusters", headers=bearer(fresh)).status_code == 200
        before = reviews(fleet)
        assert flood.get("/clusters", headers=guess()).status_code == 401
        assert reviews(fleet) - before == 1
    # Logged once for the whole episode, and never with a token in it.
    log = root.log.read_text(errors="replace")
    assert log.count(f"failed authentications from {FLOOD}") == 1, root.tail()
    assert "guess-" not in log and good not in log
    print(f"25 bad tokens in {flood_seconds:.2f}s: {codes.count(401)} reviewed (median {took[401]:.1f} ms), "
          f"{codes.count(429)} refused with 429 (median {took[429]:.1f} ms, Retry-After {wait}s)")
