"""How many failed authentications a client may cause (docs/proxy.md, "Brute-force protection").

Pure: a token bucket per client address, with an injectable clock. A client starts with ``failures``
tries; each failed authentication spends one, and they come back at ``failures / window`` per
second, so a flood gets ``failures`` guesses at once and then ``failures`` per ``window``. A client
with less than one try left is refused before its token is looked at.

A verification is paid for in advance (``admit``) and handed back when it succeeds (``refund``):
concurrent requests of one client cannot together start more verifications than it has tries, and
a success gives back only its own try, never the failures before it (interleaving a good token
does not reset the count). The number of clients tracked is capped; the least recently seen goes
first. A client whose tries are all back is forgotten.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import attrs

DEFAULT_FAILURES = 20
DEFAULT_WINDOW = 60.0
MAX_CLIENTS = 10_000


@attrs.frozen
class Refused:
    """A client out of tries: when it may try again, and whether this is the first refusal since
    it last had all its tries (the caller logs that one)."""

    retry_after: float
    first: bool


@attrs.define
class _Bucket:
    tries: float
    at: float
    throttled: bool = False  # refused since it last had all its tries


class FailureLimiter:
    def __init__(self, failures: int = DEFAULT_FAILURES, window: float = DEFAULT_WINDOW,
                 max_clients: int = MAX_CLIENTS, clock: Callable[[], float] = time.monotonic) -> None:
        if failures < 1 or window <= 0 or max_clients < 1:
            raise ValueError("failures and max_clients must be at least 1 and window positive")
        self.failures = failures
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self.rate = failures / window  # tries given back per second
        self._clients: OrderedDict[str, _Bucket] = OrderedDict()

    def admit(self, client: str) -> Refused | None:
        """Before a token of ``client`` is verified: None, with one try spent in advance (``refund``
        gives it back on success), or ``Refused`` when it has no try left."""
        bucket = self._touch(client)
        if bucket.tries < 1:
            first = not bucket.throttled
            bucket.throttled = True
            return Refused((1 - bucket.tries) / self.rate, first)
        bucket.tries -= 1
        return None

    def refund(self, client: str) -> None:
        """The try ``admit`` spent was not a failure (the token was good, or nobody could check it)."""
        bucket = self._clients.get(client)
        if bucket is None:
            return  # evicted meanwhile: it has all its tries anyway
        self._refill(bucket, self.clock())
        bucket.tries = min(float(self.failures), bucket.tries + 1)
        if bucket.tries >= self.failures and not bucket.throttled:
            del self._clients[client]

    def charge(self, client: str) -> None:
        """A failure that was not admitted in advance (a token verified before, refused now)."""
        bucket = self._touch(client)
        bucket.tries = max(0.0, bucket.tries - 1)

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again (0: now)."""
        bucket = self._clients.get(client)
        if bucket is None:
            return 0.0
        self._refill(bucket, self.clock())
        return 0.0 if bucket.tries >= 1 else (1 - bucket.tries) / self.rate

    def throttled_clients(self) -> int:
        """Clients refused at least once that have not got all their tries back since."""
        now = self.clock()
        return sum(1 for b in self._clients.values()
                   if b.throttled and b.tries + (now - b.at) * self.rate < self.failures)

    def __len__(self) -> int:
        return len(self._clients)

    def _touch(self, client: str) -> _Bucket:
        now = self.clock()
        bucket = self._clients.get(client)
        if bucket is None:
            bucket = self._clients[client] = _Bucket(float(self.failures), now)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(client)
            self._refill(bucket, now)
        return bucket

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tries = min(float(self.failures), bucket.tries + max(0.0, now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tries >= self.failures:
            bucket.throttled = False


def client_key(peer: Sequence[object] | None) -> str:
    """The limiter's key for an ASGI ``scope["client"]``: the address of the TCP peer (the TLS
    connection's other end), normalised; never a header. An IPv4 client seen through an IPv6
    socket is keyed as IPv4. No peer (a Unix socket): one shared key."""
    if not peer:
        return "unknown"
    host = str(peer[0])
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
