"""A local HTTP file server for download tests: Range support and a first request cut mid-file.

Binds 127.0.0.1 on a free port in a thread. ``cut_first`` makes the first GET of each file send the
full Content-Length header but only part of the body, then drop the connection, like a flaky mirror.
``statuses`` answers the first requests of a path with error codes (a mirror that is overloaded, then
recovers). ``zeros`` serves generated streams of zero bytes ``{path: (size, announce_length)}`` without
storing them: a hostile mirror's endless or oversized file.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class ServerLog:
    requests: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)


@contextmanager
def serve(
    folder: Path,
    cut_first: bool = False,
    statuses: dict[str, list[int]] | None = None,
    zeros: dict[str, tuple[int, bool]] | None = None,
) -> Iterator[tuple[str, ServerLog]]:
    """Serve ``folder`` at the yielded base URL; the log records each request's path and Range."""
    log = ServerLog()
    cut_done: set[str] = set()
    pending = {path: list(codes) for path, codes in (statuses or {}).items()}
    streams = dict(zeros or {})

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = folder / self.path.lstrip("/")
            log.requests.append((self.path, self.headers.get("Range")))
            if pending.get(self.path):
                self.send_error(pending[self.path].pop(0))
                return
            if self.path in streams:
                self._zeros(*streams[self.path])
                return
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            if match:
                start = int(match.group(1))
                if start >= len(data):
                    self.send_error(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if cut_first and self.path not in cut_done:
                cut_done.add(self.path)
                self.wfile.write(body[: len(body) // 3])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

        def _zeros(self, size: int, announce: bool) -> None:
            self.send_response(200)
            if announce:
                self.send_header("Content-Length", str(size))
            self.end_headers()
            block = bytes(1 << 20)
            sent = 0
            try:
                while sent < size:
                    self.wfile.write(block[: min(len(block), size - sent)])
                    sent += len(block)
            except (BrokenPipeError, ConnectionResetError):  # the client stopped reading: expected
                pass
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
