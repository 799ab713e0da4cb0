"""A small threaded TCP proxy that cuts connections for real (no Toxiproxy here).

`FaultProxy(target_port, cut_after_bytes=N)` forwards loopback connections to the target; once
a connection has carried N bytes from the server (or `cut_upload_after_bytes` to it) it is reset
(RST), as a dropped network or a killed server process would do mid-stream. `cut_every_s=T`
resets every open connection each T seconds (new ones are accepted), as a flapping network would.
`cut_connections=K` applies the byte limits to the first K connections only (later ones pass),
so a client that reconnects can be seen to recover.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType


class FaultProxy:
    def __init__(self, target_port: int, cut_after_bytes: int | None = None,
                 cut_upload_after_bytes: int | None = None,
                 cut_every_s: float | None = None,
                 cut_connections: int | None = None) -> None:  # fmt: skip
        self.target_port = target_port
        self.cut_connections = cut_connections
        self.accepted = 0
        self.cut_every_s = cut_every_s
        self.cuts = 0
        self.cut_after_bytes = cut_after_bytes
        self.cut_upload_after_bytes = cut_upload_after_bytes
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if self.cut_every_s is not None:
            threading.Thread(target=self._cut_periodically, daemon=True).start()
        return self

    def _cut_periodically(self) -> None:
        assert self.cut_every_s is not None
        while not self._stop.wait(self.cut_every_s):
            sockets, self._sockets = self._sockets, []
            if sockets:
                self.cuts += 1
            for sock in sockets:
                _reset(sock)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        with contextlib.suppress(OSError):  # wakes the accept() that close() alone would not
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in list(self._sockets):
            _reset(sock)

    def go_away(self) -> None:
        """The server goes away: every open connection is reset and new ones are refused."""
        self.__exit__(None, None, None)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, server]
            self.accepted += 1
            limited = self.cut_connections is None or self.accepted <= self.cut_connections
            upload = self.cut_upload_after_bytes if limited else None
            download = self.cut_after_bytes if limited else None
            threading.Thread(target=self._pipe, args=(client, server, upload),
                             daemon=True).start()  # fmt: skip
            threading.Thread(target=self._pipe, args=(server, client, download),
                             daemon=True).start()  # fmt: skip

    def _pipe(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        carried = 0
        try:
            while data := source.recv(65536):
                if limit is not None and carried + len(data) > limit:
                    _reset(source)
                    _reset(sink)
                    return
                sink.sendall(data)
                carried += len(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer sees a connection reset, not a clean end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
