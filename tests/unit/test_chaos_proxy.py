"""The chaos suite's network cut (chaos/proxy.py) on real loopback sockets: bytes pass, stop passing during a
cut on an open connection and on a new one, none are lost, and they pass again after the reconnection."""
from __future__ import annotations

import socket
import socketserver
import threading

import pytest

from chaos.proxy import CuttableProxy


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def proxy():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = CuttableProxy(server.server_address[1]).start()
    yield proxy
    proxy.stop()
    server.shutdown()
    server.server_close()


def exchange(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        got += sock.recv(4096)
    return got


def test_a_cut_holds_the_bytes_of_open_and_new_connections_until_the_reconnection(proxy):
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as open_one:
        assert exchange(open_one, b"before") == b"before"
        proxy.cut()
        open_one.sendall(b"during")
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as new_one:
            new_one.sendall(b"new")
            for sock in (open_one, new_one):
                sock.settimeout(0.3)
                with pytest.raises(socket.timeout):  # nothing comes back while cut
                    sock.recv(4096)
                sock.settimeout(5)
            proxy.reconnect()
            assert open_one.recv(4096) == b"during"  # held, not lost
            assert new_one.recv(4096) == b"new"
    assert proxy.connections == 2


def test_a_connection_goes_to_the_first_target_that_accepts(proxy):
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        nothing_there = CuttableProxy(0).port  # a free port no one listens on
        front = CuttableProxy(lambda: [nothing_there, server.server_address[1]]).start()
        try:
            with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
                assert exchange(sock, b"to the live one") == b"to the live one"
        finally:
            front.stop()
            server.shutdown()
