"""Webhook answers are read within an overall deadline and up to a size cap."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import httpx

from channels import Kind
from channels.webhook import MAX_BODY_BYTES, post_json


def serve_once(answer) -> str:
    """A one-request HTTP server on a free port; `answer(conn)` writes the response."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            with contextlib.suppress(OSError):  # the client gave up: what this test wants
                answer(conn)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/hook"


def test_an_answer_dripping_past_the_deadline_is_transient():
    def drip(conn):
        conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"x")
            time.sleep(0.1)

    with httpx.Client(timeout=5) as http:
        outcome = post_json(http, "discord", serve_once(drip), {"content": "hi"}, deadline_s=0.3)
    assert outcome.kind == Kind.TRANSIENT
    assert outcome.detail == "discord timeout: ReadTimeout"


def test_a_huge_answer_is_read_only_up_to_the_cap():
    size = MAX_BODY_BYTES * 4

    def flood(conn):
        conn.sendall(f"HTTP/1.1 400 Bad\r\nContent-Length: {size}\r\n\r\n".encode() + b"y" * size)

    with httpx.Client(timeout=5) as http:
        outcome = post_json(http, "slack", serve_once(flood), {"text": "hi"})
    assert outcome.kind == Kind.PERMANENT
    assert outcome.detail == "slack HTTP 400: " + "y" * 200
