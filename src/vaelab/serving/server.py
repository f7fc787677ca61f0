"""Running the app on uvicorn: in the foreground (``vaelab serve``) or on a background thread (tests, benchmarks).

The listening socket is bound here first, so a port in use is a one-line error, and port 0 picks a free
port whose number is known before the server starts.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any, Iterator

from vaelab.errors import VaelabError


def bind(host: str = "127.0.0.1", port: int = 8000) -> socket.socket:
    """A listening TCP socket on host:port (port 0: a free one), or a VaelabError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise VaelabError(f"cannot listen on {host}:{port}: unknown host ({exc.strerror})") from None
    family, _, proto, _, addr = infos[0]
    # proto IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on such sockets, and without it small responses
    # wait ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise VaelabError(f"cannot listen on {host}:{port}: {exc.strerror} (pick another --port)") from None
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def make_server(app: Any, log_level: str = "warning", access_log: bool = False) -> Any:
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, access_log=access_log, timeout_keep_alive=5,
                            timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


def serve(app: Any, sock: socket.socket, log_level: str = "info") -> None:
    """Serve ``app`` on ``sock`` until interrupted (Ctrl-C / SIGTERM)."""
    server = make_server(app, log_level=log_level, access_log=log_level in ("info", "debug"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def background(app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 20.0) -> Iterator[str]:
    """Serve ``app`` on a background thread; yields the base URL and always stops the server on exit."""
    sock = bind(host, port)
    server = make_server(app)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # not the main thread
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="vaelab-serve")
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise VaelabError(f"the server on {url_of(sock)} did not start within {timeout_s:g} s")
            time.sleep(0.02)
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
