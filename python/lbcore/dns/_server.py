"""DNSServer: a :class:`~lbcore.dns.Responder` on UDP and TCP sockets (asyncio).

UDP: one datagram in, one out (truncated with TC when too big, RFC 1035 4.2.1 / RFC 6891).
TCP: two-byte length-prefixed messages (RFC 1035 4.2.2, RFC 7766), several per
connection, the connection closed after ``tcp_idle_timeout`` seconds without a query.
"""
from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import socket
import struct
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from lbcore.route53 import HostedZone
from lbcore.dns._aio import cancel_and_wait
from lbcore.dns._answer import MAX_UDP_PAYLOAD, Responder
from lbcore.dns._locate import Locator

__all__ = ["DNSServer", "DEFAULT_PORT"]

log = logging.getLogger("lbcore.dns")

DEFAULT_PORT = 8053          # unprivileged; 53 needs root or CAP_NET_BIND_SERVICE
_BIND_ATTEMPTS = 20          # port 0: UDP and TCP must share one ephemeral port


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        out = self.responder.respond(data, addr[0], udp=True)
        if out is not None and self.transport is not None:
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:      # ICMP unreachable etc.
        log.debug("lbcore.dns: UDP error %s", exc)


class DNSServer:
    """An authoritative DNS server for one :class:`~lbcore.route53.HostedZone`.

    ``host``/``port``: where to listen, UDP and TCP on the same port (default
    127.0.0.1:8053; port 0 picks a free port, see :attr:`port` after :meth:`start`).
    ``clock``, ``locator``, ``max_udp_payload``: as :class:`~lbcore.dns.Responder`.

    In a running event loop: ``await server.start()`` ... ``await server.stop()`` (or
    ``async with server:``). From synchronous code: ``with server.serve_in_thread(): ...``
    runs the loop in a background thread and stops it on exit.
    """

    def __init__(self, zone: HostedZone, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 clock: Callable[[], float] | None = None, locator: Locator | None = None,
                 max_udp_payload: int = MAX_UDP_PAYLOAD, tcp_idle_timeout: float = 10.0) -> None:
        try:
            ipaddress.ip_address(host)
        except (ValueError, TypeError):
            raise ValueError(f"host must be an IP address, got {host!r}") from None
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an int in 0..65535, got {port!r}")
        if isinstance(tcp_idle_timeout, bool) or not isinstance(tcp_idle_timeout, (int, float)) \
                or not tcp_idle_timeout > 0:
            raise ValueError(f"tcp_idle_timeout must be a positive number of seconds, got "
                             f"{tcp_idle_timeout!r}")
        self.responder = Responder(zone, clock=clock, locator=locator,
                                   max_udp_payload=max_udp_payload)
        self.host = host
        self.port = port
        self.tcp_idle_timeout = float(tcp_idle_timeout)
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    @property
    def zone(self) -> HostedZone:
        return self.responder.zone

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the server listens on (the real port once started)."""
        return self.host, self.port

    # ------------------------------------------------------------ asyncio
    async def start(self) -> None:
        """Bind UDP and TCP on (host, port) and start answering."""
        if self._udp is not None:
            raise RuntimeError("the server is already running")
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        attempts = _BIND_ATTEMPTS if self.port == 0 else 1
        for attempt in range(attempts):
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self.responder), local_addr=(self.host, self.port), family=family)
            port = udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port,
                                                       family=family, reuse_address=True)
            except OSError as exc:
                udp.close()
                if exc.errno != errno.EADDRINUSE or attempt == attempts - 1:
                    raise
                continue
            self._udp, self.port = udp, port
            break
        log.info("lbcore.dns: serving %s on %s port %d (UDP and TCP)",
                 self.zone.name, self.host, self.port)

    async def stop(self) -> None:
        """Close both sockets and every open TCP connection."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await cancel_and_wait(list(self._connections))
            await self._tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> DNSServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    async def _serve_tcp(self, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        source = peer[0] if peer else None
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), self.tcp_idle_timeout)
                (n,) = struct.unpack("!H", head)
                data = await asyncio.wait_for(reader.readexactly(n), self.tcp_idle_timeout)
                out = self.responder.respond(data, source, udp=False)
                if out is None:
                    break
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, asyncio.CancelledError):
                pass

    # ------------------------------------------------------------ threads
    @contextmanager
    def serve_in_thread(self, timeout: float = 10.0) -> Iterator[DNSServer]:
        """Run the server in a background thread with its own event loop for the body of
        a ``with`` block; stopped (and the thread joined, at most ``timeout`` s) on exit."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:          # reported to the caller below
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, name=f"lbcore.dns:{self.zone.name}", daemon=True)
        thread.start()
        try:
            if not started.wait(timeout):
                raise TimeoutError(f"the DNS server did not start within {timeout} s")
            if failure:
                raise failure[0]
            yield self
        finally:
            if thread.is_alive() and not failure:
                done = asyncio.run_coroutine_threadsafe(self.stop(), loop)
                try:
                    done.result(timeout)
                finally:
                    loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            if not thread.is_alive():
                loop.close()
