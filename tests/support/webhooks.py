"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 (a thread of the test
process) that verifies each request with its own `standardwebhooks` check, as a finance
system would, and dedups by `webhook-id`."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.cli import free_port

Mode = Literal["ok", "fail", "hang"]
"""`ok`: 204; `fail`: 500; `hang`: process the request, then never answer (until the
receiver stops): a receiver that dies before its answer reaches the sender."""


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # the service sends several at once


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    error: str | None


@dataclass
class Receiver:
    """Start it with `start()` (or give a port to start later: the sender meets a closed
    port until then); `secret` is set once the endpoint is registered."""

    port: int = field(default_factory=free_port)
    secret: str | None = None
    mode: Mode = "ok"
    received: list[Received] = field(default_factory=list)
    processed: dict[str, Any] = field(default_factory=dict)
    """webhook-id → the verified payload, each processed once."""
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ivsettle/webhooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                answer = receiver.handle(dict(self.headers.items()), body)
                if answer is None:
                    receiver._release.wait(60)
                    self.close_connection = True
                    return
                self.send_response(answer)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self._release.clear()
        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def handle(self, headers: dict[str, str], body: bytes) -> int | None:
        """Verify, record, dedup; the status to answer (None: hang)."""
        webhook_id = {k.lower(): v for k, v in headers.items()}.get("webhook-id", "")
        verified, error, payload = False, None, None
        try:
            assert self.secret is not None, "the receiver has no secret yet"
            payload = Webhook(self.secret).verify(body, headers)
            verified = True
        except (WebhookVerificationError, AssertionError) as exc:
            error = str(exc)
        with self._lock:
            self.received.append(Received(webhook_id, headers, body, verified, error))
            if not verified:
                return 400
            if self.mode == "fail":
                return 500
            # A receiver dedups by webhook-id: a redelivery is acknowledged, not redone.
            self.processed.setdefault(webhook_id, payload)
        return None if self.mode == "hang" else 204

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def payloads(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r.body) for r in self.received]
