"""Run the app with uvicorn on a socket we bind ourselves (free port, known before start)."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

import uvicorn


class _CutFilter(logging.Filter):
    """The `cut` fault raises on purpose; keep uvicorn from logging a traceback for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return type(exc).__name__ != "CutConnection"


logging.getLogger("uvicorn.error").addFilter(_CutFilter())


class Server(uvicorn.Server):
    """uvicorn.Server that signals a callback once it accepts connections."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if not self.should_exit:
            self._on_started()


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def config(app: object, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(app, loop="auto", http="auto", lifespan="off", log_level=log_level,
                          access_log=False, server_header=False, date_header=True,
                          timeout_keep_alive=5)


class Background:
    """uvicorn in a daemon thread; start() returns once the server is accepting."""

    def __init__(self, app: object, host: str, port: int) -> None:
        self.sock = bind(host, port)
        self.port = self.sock.getsockname()[1]
        self._ready = threading.Event()
        self.server = Server(config(app), self._ready.set)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="cadt-sim-server", daemon=True)

    def start(self) -> None:
        self.thread.start()
        while not self._ready.wait(0.05):
            if not self.thread.is_alive():
                raise RuntimeError("cadt-sim server thread died during startup")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.sock.close()
