"""A slack_sdk WebClient that keeps its HTTP connections open between calls."""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import select
import socket
import ssl
import threading
import time
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urlsplit
from urllib.request import Request

from slack_sdk import WebClient

__all__ = ["KeepAliveWebClient"]

# A connection idle longer than this is closed rather than reused: servers drop idle
# connections after some seconds, and a request written into one they are closing may or may
# not have been read (an ambiguous post, which costs a lookup). Slack keeps them for longer.
IDLE_SECONDS = 20.0
# A connection used this recently is reused without looking at its socket: a fan-out posts
# every few milliseconds, and a server does not close a connection it has just answered on.
RECENT_SECONDS = 0.5

# One connection per thread and server, shared by every workspace's client: a fan-out thread
# posts for all workspaces, and the token travels in each request, not in the connection.
_local = threading.local()
_Key = tuple[str, str, int | None, int]  # scheme, host, port, id of the client's SSL context
_Pool = dict[_Key, tuple[http.client.HTTPConnection, float]]  # connection, when last used


class KeepAliveWebClient(WebClient):
    """WebClient whose calls reuse one HTTP/1.1 connection per thread and host.

    slack_sdk's urllib transport opens and closes a connection for every call; in a fan-out of
    thousands of posts a second that is about a third of the client's CPU. This replaces only
    the transport step (`_perform_urllib_http_request_internal`): requests, retry handlers,
    errors and responses stay slack_sdk's. A non-2xx answer raises urllib's HTTPError, as
    urlopen does, so the rest of slack_sdk treats it the same way."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        """Send `req` over this thread's open connection to the host (opened if needed)."""
        parts = urlsplit(url)
        if self.proxy is not None or parts.scheme not in ("http", "https") or not parts.hostname:
            return super()._perform_urllib_http_request_internal(url, req)
        key: _Key = (parts.scheme, parts.hostname, parts.port, id(self.ssl))
        connection = self._connection(key)
        # Clients with different timeouts (posts, lookups) share the connection: each call
        # waits as long as its own client says.
        connection.timeout = self.timeout
        if connection.sock is not None:
            connection.sock.settimeout(self.timeout)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=req.data, headers=dict(req.header_items()))
            _ack_promptly(connection.sock)
            response = connection.getresponse()
            body = response.read()
        except BaseException:
            # Whatever was half sent or half read poisons the connection: the next call opens
            # a fresh one.
            connection.close()
            raise
        _pool()[key] = (connection, time.monotonic())
        status, headers = response.status, response.headers
        if not 200 <= status < 300:
            raise HTTPError(url, status, response.reason, headers, io.BytesIO(body))
        if headers.get_content_type() == "application/gzip":
            return {"status": status, "headers": headers, "body": body}
        charset = headers.get_content_charset() or "utf-8"
        return {"status": status, "headers": headers, "body": body.decode(charset)}

    def _connection(self, key: _Key) -> http.client.HTTPConnection:
        """This thread's connection to the host: reused when it is still fit to carry a request."""
        pool = _pool()
        held = pool.pop(key, None)
        if held is not None:
            connection, last_used = held
            idle = time.monotonic() - last_used
            if idle < RECENT_SECONDS or (idle < IDLE_SECONDS and not _dropped(connection)):
                return connection
            connection.close()
        # http.client sets TCP_NODELAY and sends a request's headers and body in one write.
        scheme, host, port, _ = key
        if scheme == "https":
            context = self.ssl or _default_context()
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)


@functools.cache
def _default_context() -> ssl.SSLContext:
    """The system's trusted CAs, loaded once rather than for every connection."""
    return ssl.create_default_context()


def _pool() -> _Pool:
    """This thread's open connections."""
    pool: _Pool | None = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    return pool


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """The server closed the connection (or sent something unasked) while it sat idle."""
    sock = connection.sock
    if sock is None:
        return False  # closed by us after a `Connection: close` answer; request() reconnects
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _ack_promptly(sock: socket.socket | None) -> None:
    """Acknowledge the answer's first segment at once (Linux): a server that writes the
    headers and the body separately would otherwise wait for our delayed ACK, 40 ms a call."""
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if sock is not None and quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
