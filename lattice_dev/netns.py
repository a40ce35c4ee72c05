"""A private network namespace for processes that bind fixed ports, joined to this host's loopback
by a TCP relay.

CAPD's in-memory backend listens on ``:19000`` and gives every workload cluster the next port from
``:20000``, on all interfaces, with no flag to change it: two such managers on one host collide.
So they run in a network namespace of their own (``unshare(CLONE_NEWNET)``; needs root or
CAP_SYS_ADMIN), where those ports are theirs alone. The relay is the namespace's first process:

* it listens on the host's ``127.0.0.1:<port>`` for each ``--into`` port and connects to the same
  port inside the namespace (the managers' webhook and health ports, which kube-apiserver and the
  tests dial);
* it listens inside the namespace on ``127.0.0.1:<port>`` for each ``--out`` port and connects to
  the host's ``127.0.0.1:<port>`` (the kube-apiserver the managers talk to);
* other processes join with ``nsenter --net=/proc/<relay pid>/ns/net``.

A socket belongs to the namespace its creating thread was in, so the relay keeps a descriptor of
each namespace and switches (``setns``) around the creation of host-side sockets. It writes
``ready`` to stdout once every listener is up and runs until it is signalled.

    python -m lattice_dev.netns --into 9443,9444 --out 6443
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import fcntl
import os
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Iterator

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP, IFF_RUNNING = 0x1, 0x40
CHUNK = 64 * 1024
READY = "lattice-netns-relay ready"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare_net() -> None:
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")


def setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns")


def loopback_up() -> None:
    """``ip link set lo up`` in the current namespace (a new one starts with ``lo`` down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP | IFF_RUNNING))


def can_isolate() -> bool:
    """Whether this process may create network namespaces (tried in a throwaway child)."""
    if not sys.platform.startswith("linux"):
        return False
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports
        try:
            unshare_net()
            os._exit(0)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


@contextlib.contextmanager
def _in(fd: int, back: int) -> Iterator[None]:
    setns(fd)
    try:
        yield
    finally:
        setns(back)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()
            else:
                writer.close()


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def _handler(port: int, make_socket: Callable[[], socket.socket]) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = make_socket()
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except OSError:
            sock.close()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(sock=sock)
        await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        for w in (writer, up_writer):
            w.close()

    return handle


def _listen(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    s.setblocking(False)
    return s


async def _relay(into: list[int], out: list[int]) -> None:
    host = os.open("/proc/self/ns/net", os.O_RDONLY)
    host_listeners = {p: _listen(p) for p in into}  # before leaving the host's namespace
    unshare_net()
    loopback_up()
    private = os.open("/proc/self/ns/net", os.O_RDONLY)

    def host_socket() -> socket.socket:
        with _in(host, private):
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    def private_socket() -> socket.socket:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)

    servers = [await asyncio.start_server(_handler(p, private_socket), sock=s) for p, s in host_listeners.items()]
    servers += [await asyncio.start_server(_handler(p, host_socket), sock=_listen(p)) for p in out]
    sys.stdout.write(f"{READY}\n")
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()  # until a signal: it runs in its own process group, under the reaper
    finally:
        for server in servers:
            server.close()


def _ports(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lattice_dev.netns", description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", default="", help="host loopback ports relayed into the namespace")
    parser.add_argument("--out", default="", help="namespace loopback ports relayed to the host")
    args = parser.parse_args(argv)
    asyncio.run(_relay(_ports(args.into), _ports(args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
