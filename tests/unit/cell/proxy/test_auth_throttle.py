"""lattice_cell.proxy.auth_throttle: the per-client failure limiter on a clock the test turns."""

from __future__ import annotations

import pytest

from lattice_cell.proxy.auth_throttle import DEFAULT_FAILURES, DEFAULT_WINDOW, FailureLimiter, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(limiter: FailureLimiter, client: str, times: int) -> None:
    for _ in range(times):
        assert limiter.admit(client) is None  # admitted, one try spent (never refunded: a failure)


def test_the_shipped_default_is_20_a_minute() -> None:
    assert (DEFAULT_FAILURES, DEFAULT_WINDOW) == (20, 60.0)


def test_n_failures_at_once_then_refused_until_a_try_comes_back() -> None:
    clock = Clock()
    limiter = FailureLimiter(20, 60.0, clock=clock)
    fail(limiter, "10.0.0.1", 20)
    refused = limiter.admit("10.0.0.1")
    assert refused is not None and refused.first and refused.retry_after == pytest.approx(3.0)
    clock.now += 1.0
    again = limiter.admit("10.0.0.1")
    assert again is not None and not again.first and again.retry_after == pytest.approx(2.0)
    clock.now += 2.0
    assert limiter.admit("10.0.0.1") is None  # one try back after window / failures
    assert limiter.admit("10.0.0.1") is not None
    clock.now += 60.0  # a whole window: every try back, the client forgotten once it succeeds
    fail(limiter, "10.0.0.1", 20)
    assert limiter.admit("10.0.0.1") is not None


def test_other_clients_are_not_affected() -> None:
    limiter = FailureLimiter(3, 60.0, clock=Clock())
    fail(limiter, "10.0.0.1", 3)
    assert limiter.admit("10.0.0.1") is not None
    assert limiter.admit("10.0.0.2") is None


def test_a_success_gives_back_only_its_own_try() -> None:
    clock = Clock()
    limiter = FailureLimiter(5, 60.0, clock=clock)
    fail(limiter, "c", 4)
    assert limiter.admit("c") is None
    limiter.refund("c")  # a good token: its try back, the four failures stay
    assert limiter.retry_after("c") == 0.0
    assert limiter.admit("c") is None  # the fifth failure
    assert limiter.admit("c") is not None  # interleaving a good token did not reset anything


def test_concurrent_verifications_cannot_exceed_the_tries() -> None:
    limiter = FailureLimiter(5, 60.0, clock=Clock())
    admitted = [limiter.admit("c") for _ in range(8)]  # eight requests in flight before any answer
    assert admitted.count(None) == 5


def test_a_failure_charged_afterwards_counts_too() -> None:
    limiter = FailureLimiter(2, 60.0, clock=Clock())
    limiter.charge("c")
    limiter.charge("c")
    limiter.charge("c")  # never below zero: Retry-After stays one try away
    refused = limiter.admit("c")
    assert refused is not None and refused.retry_after == pytest.approx(30.0)


def test_the_first_refusal_of_an_episode_is_flagged_once_and_the_gauge_follows() -> None:
    clock = Clock()
    limiter = FailureLimiter(2, 10.0, clock=clock)
    fail(limiter, "a", 2)
    fail(limiter, "b", 1)
    flags = [r.first for r in (limiter.admit("a"), limiter.admit("a"), limiter.admit("a")) if r is not None]
    assert flags == [True, False, False]
    assert limiter.throttled_clients() == 1  # b was never refused
    clock.now += 5.0  # one try back: served again, but still not back to its whole allowance
    assert limiter.admit("a") is None
    assert limiter.throttled_clients() == 1
    clock.now += 10.0
    assert limiter.throttled_clients() == 0
    fail(limiter, "a", 2)
    refused = limiter.admit("a")
    assert refused is not None and refused.first  # a new episode is logged again


def test_memory_is_bounded_and_the_least_recently_seen_goes_first() -> None:
    limiter = FailureLimiter(1, 60.0, max_clients=3, clock=Clock())
    for client in ("a", "b", "c"):
        fail(limiter, client, 1)
    assert limiter.admit("a") is not None  # seen again: now the most recent
    fail(limiter, "d", 1)  # a fourth client evicts the least recently seen (b)
    assert len(limiter) == 3
    assert limiter.admit("b") is None  # b was forgotten: a fresh allowance (and it evicts c)
    assert limiter.admit("a") is not None
    assert limiter.admit("d") is not None


def test_a_client_with_all_its_tries_back_is_forgotten() -> None:
    limiter = FailureLimiter(3, 60.0, clock=Clock())
    assert limiter.admit("good") is None
    limiter.refund("good")
    assert len(limiter) == 0
    limiter.refund("gone")  # refund of an evicted client: nothing to do


def test_bad_settings_are_refused() -> None:
    for failures, window in ((0, 60.0), (5, 0.0)):
        with pytest.raises(ValueError, match="at least 1"):
            FailureLimiter(failures, window)


@pytest.mark.parametrize(("peer", "key"), [
    (("203.0.113.7", 51000), "203.0.113.7"),
    (["203.0.113.7", 51001], "203.0.113.7"),  # the port is not part of the key: new connections are one client
    (("::ffff:203.0.113.7", 1), "203.0.113.7"),
    (("2001:db8::0001", 1), "2001:db8::1"),
    (("fe80::1%eth0", 1), "fe80::1"),
    (None, "unknown"),
    (("not-an-address", 1), "not-an-address"),
])
def test_the_key_is_the_peer_address(peer: tuple[str, int] | None, key: str) -> None:
    assert client_key(peer) == key
