"""Serve the sandbox app with uvicorn: in a background thread for tests and tools
(`SandboxServer`), or in the foreground for ``notify sandbox`` (`run`).

Default address 127.0.0.1:8590 (docs/configuration.md). uvicorn's access log stays off: webhook and
Bot API paths carry tokens.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from types import TracebackType

import uvicorn

from .app import build_app
from .state import SandboxState

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "SandboxServer", "run"]

logger = logging.getLogger(__name__)

#: Where the sandbox listens unless told otherwise.
DEFAULT_HOST = "127.0.0.1"
#: The sandbox's port (docs/configuration.md).
DEFAULT_PORT = 8590
#: How long `SandboxServer.start` waits for uvicorn to be listening.
STARTUP_TIMEOUT_S = 10.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _config(state: SandboxState, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(state),
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )


class SandboxServer:
    """The sandbox on a background thread; a context manager.

    Parameters: `host` and `port` to listen on (port 0 picks a free one; `.url` has the real one);
    `state`, an existing `SandboxState` to serve (a fresh one when None).
    """

    def __init__(
        self, host: str = DEFAULT_HOST, port: int = 0, state: SandboxState | None = None
    ) -> None:
        self.host = host
        self.state = state if state is not None else SandboxState()
        self._socket = _bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        self.url = _url(host, self.port)
        self._server = uvicorn.Server(_config(self.state, "warning"))
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxServer:
        """Start serving and wait until uvicorn is listening."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"sandbox did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (open long polls are cut after ~2 s)."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        with contextlib.suppress(OSError):
            self._socket.close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the sandbox in the foreground until Ctrl-C (the ``notify sandbox`` command)."""
    if not logging.getLogger().handlers:
        from logsetup import configure_logging

        configure_logging()
    sock = _bind(host, port)
    url = _url(host, sock.getsockname()[1])
    server = uvicorn.Server(_config(SandboxState(), "warning"))
    logger.info("sandbox listening url=%s (open it in a browser to see deliveries)", url)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
