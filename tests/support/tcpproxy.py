"""A TCP proxy in a thread of its own, to cut a server off its database and reconnect it.

``with TcpProxy.to_database(url) as proxy:`` listens on ``proxy.port`` and forwards to the
database of ``url`` (TCP or a Unix socket); ``proxy.database_url(url)`` is ``url`` through it; ``proxy.cut()``
closes the listener and every open connection (new connections are refused, pooled ones
are reset, as when the database goes down); ``proxy.restore()`` listens again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

from sqlalchemy.engine import make_url

from tests.support.servers import free_port


class TcpProxy:
    def __init__(self, host: str, port: int | None = None) -> None:
        self.target = (host, port)  # port None: host is a Unix socket path
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def to_database(cls, url: str) -> TcpProxy:
        parsed = make_url(url)
        socket_dir = parsed.query.get("host")
        if parsed.host or not socket_dir:
            return cls(parsed.host or "127.0.0.1", parsed.port or 5432)
        return cls(f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}")

    def database_url(self, url: str) -> str:
        parsed = make_url(url).difference_update_query(["host"]).set(host="127.0.0.1", port=self.port)
        return parsed.render_as_string(hide_password=False)

    def __enter__(self) -> TcpProxy:
        self.thread.start()
        self.restore()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def restore(self) -> None:
        async def listen() -> None:
            self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

        self._run(listen())

    def cut(self) -> None:
        async def close() -> None:
            if self.server is not None:
                self.server.close()
                self.server = None
            for w in list(self.writers):
                w.transport.abort()
            self.writers.clear()

        self._run(close())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = self.target
            if port is None:
                up_reader, up_writer = await asyncio.open_unix_connection(host)
            else:
                up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.transport.abort()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}
