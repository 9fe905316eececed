"""A local HTTP file server for download tests: Range support and a first request cut mid-file.

Binds 127.0.0.1 on a free port in a thread. ``cut_first`` makes the first GET of each file send the
full Content-Length header but only part of the body, then drop the connection, like a flaky mirror.
``statuses`` answers the first requests of a path with error codes (a mirror that is overloaded, then
recovers). ``zeros`` serves generated streams of zero bytes ``{path: (size, announce_length)}`` without
storing them: a hostile mirror's endless or oversized file.
"""

from __future__ import annotations

import hashlib
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


@contextmanager
def serve_hub(
    repo: str,
    files: dict[str, Path],
    commit: str = "c0ffee" * 6 + "abcd",
    sha256: dict[str, str] | None = None,
    cut_first: bool = False,
) -> Iterator[tuple[str, ServerLog]]:
    """Answer a Hugging Face Hub's resolve URLs for one dataset repository, as the Hub does for LFS files.

    ``HEAD|GET /datasets/<repo>/resolve/<revision>/<file>`` (revision ``main`` or ``commit``) answers 302
    with the headers huggingface_hub reads on that very response (``file_download.get_hf_file_metadata``):
    X-Repo-Commit, ETag and X-Linked-Etag (the file's sha256), X-Linked-Size, and a Location on another
    origin (a second port standing for the CDN), which serves the bytes with Range. ``sha256`` overrides
    the announced digest of a file (metadata and bytes that disagree); ``cut_first`` drops the first
    transfer of each file after a third of its body.
    """
    log = ServerLog()
    announced = dict(sha256 or {})
    prefix = f"/datasets/{repo}/resolve/"
    cut_done: set[str] = set()
    ports: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            log.requests.append((f"{self.command} {self.path}", self.headers.get("Range")))
            if self.path.startswith("/cdn/") and self.path[5:] in files:
                self._bytes(self.path[5:], body)
                return
            revision, _, name = self.path.removeprefix(prefix).partition("/")
            if not self.path.startswith(prefix) or revision not in ("main", commit) or name not in files:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path = files[name]
            self.send_response(302)
            self.send_header("X-Repo-Commit", commit)
            digest = announced.get(name) or hashlib.sha256(path.read_bytes()).hexdigest()
            self.send_header("ETag", f'"{digest}"')
            self.send_header("X-Linked-Etag", f'"{digest}"')
            self.send_header("X-Linked-Size", str(path.stat().st_size))
            self.send_header("Location", f"http://127.0.0.1:{ports['cdn']}/cdn/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _bytes(self, name: str, body: bool) -> None:
            data = files[name].read_bytes()
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            start = int(match.group(1)) if match else 0
            self.send_response(206 if match else 200)
            if match:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.send_header("Content-Length", str(len(data) - start))
            self.end_headers()
            if not body:
                return
            if cut_first and name not in cut_done:
                cut_done.add(name)
                self.wfile.write(data[start : start + (len(data) - start) // 3])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(data[start:])

    servers = {role: ThreadingHTTPServer(("127.0.0.1", 0), Handler) for role in ("hub", "cdn")}
    for role, server in servers.items():
        ports[role] = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{ports['hub']}", log
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()
