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
) -> Iterator[tuple[str, ServerLog]]:
    """Answer a Hugging Face Hub's resolve URLs for one dataset repository, as huggingface_hub requests them.

    ``HEAD|GET /datasets/<repo>/resolve/<revision>/<file>`` (revision ``main`` or ``commit``): the HEAD gives
    the headers huggingface_hub reads (``file_download.get_hf_file_metadata``): X-Repo-Commit, ETag and
    X-Linked-Etag (an LFS file's sha256), X-Linked-Size; the GET serves the bytes, with Range. ``sha256``
    overrides the announced digest of a file (a mirror whose metadata and bytes disagree).
    """
    log = ServerLog()
    announced = dict(sha256 or {})
    prefix = f"/datasets/{repo}/resolve/"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _file(self) -> tuple[Path | None, str]:
            log.requests.append((f"{self.command} {self.path}", self.headers.get("Range")))
            if not self.path.startswith(prefix):
                return None, ""
            revision, _, name = self.path[len(prefix) :].partition("/")
            if revision not in ("main", commit) or name not in files:
                return None, name
            return files[name], name

        def _headers(self, path: Path, name: str, length: int) -> None:
            digest = announced.get(name) or hashlib.sha256(path.read_bytes()).hexdigest()
            self.send_header("X-Repo-Commit", commit)
            self.send_header("ETag", f'"{digest}"')
            self.send_header("X-Linked-Etag", f'"{digest}"')
            self.send_header("X-Linked-Size", str(path.stat().st_size))
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")

        def do_HEAD(self) -> None:
            path, name = self._file()
            if path is None:
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", commit)
                self.end_headers()
                return
            self.send_response(200)
            self._headers(path, name, path.stat().st_size)
            self.end_headers()

        def do_GET(self) -> None:
            path, name = self._file()
            if path is None:
                self.send_error(404)
                return
            data = path.read_bytes()
            match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
            start = int(match.group(1)) if match else 0
            self.send_response(206 if match else 200)
            if match:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self._headers(path, name, len(data) - start)
            self.end_headers()
            self.wfile.write(data[start:])

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
