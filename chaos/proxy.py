"""The chaos suite's network cut: a TCP proxy of its own between kruise-manager and kube-apiserver, on loopback.

The manager's kubeconfig names the proxy (`127.0.0.1:<port>`, which kube-apiserver's serving certificate
covers); the proxy passes TLS through untouched. `cut()` stops it passing bytes both ways on every connection,
open or new, without closing any: the bytes wait in the sockets' buffers as they would in a network that drops
packets for a while and TCP retransmits them (a 30 s cut is far below TCP's retransmission timeout), and the
manager's requests and Lease renewals time out. `reconnect()` lets them through again. What it does not cut: the
API server's calls to the manager's webhooks (they go straight to the webhook port), so admission continues.
No firewall rules or namespaces: the sandbox runs as an unprivileged user, and the proxy needs neither.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Callable

from sandbox.ports import free_port


class CuttableProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`target` on an event loop of its own (a thread), so that the
    suite's own work never delays the manager's bytes. `target` may also be a function giving the ports to try
    in turn for each new connection: the first that accepts serves it (the leader scenario's webhook Service in
    front of two manager replicas, whose ports change when one is started again)."""

    def __init__(self, target: int | Callable[[], list[int]], port: int | None = None):
        self.targets = target if callable(target) else (lambda: [target])
        self.port = port or free_port()
        self.connections = 0  # accepted since the start
        self._open = asyncio.Event()  # set: bytes pass
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> "CuttableProxy":
        self._thread.start()
        self._started.wait(10)
        return self

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._started.set()
        self._loop.run_forever()
        # stopped: the connections' pumps end here, on a loop that still runs, and close their sockets
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _serve(self) -> None:
        self._open.set()
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await self._open.wait()  # a connection made during a cut waits too (its TLS handshake times out)
        for target in self.targets():
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
                break
            except OSError:
                continue
        else:
            writer.close()
            return
        await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await self._open.wait()  # during a cut: held, neither delivered nor lost
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except OSError:
                pass

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._open.clear)

    def reconnect(self) -> None:
        self._loop.call_soon_threadsafe(self._open.set)

    def stop(self) -> None:
        def close() -> None:
            if self._server is not None:
                self._server.close()
            self._loop.stop()
        self._loop.call_soon_threadsafe(close)
        self._thread.join(10)
