"""Fetch one public Google Drive file with gdown (Drive's confirmation pages, cookies, resume).

The byte bound of every download holds here too: gdown calls back after each chunk with the bytes so far
and the announced total, and the callback stops a file that is, or grows, over the bound; its partial
file is then deleted so that it is never resumed.
"""

from __future__ import annotations

from pathlib import Path

import requests

from vqr1.config import DownloadParams
from vqr1.errors import DataError, shorten


def _partials(dest: Path) -> list[Path]:
    """gdown's partial files of ``dest``: ``<name><8 random characters>.part``."""
    return list(dest.parent.glob(f"{dest.name}{'?' * 8}.part"))


def fetch(url: str, dest: Path, opts: DownloadParams, limit: int, label: str, progress: bool = True) -> Path:
    """Download ``url`` (a Drive ``uc?id=`` link, or any URL gdown takes) to ``dest``, at most ``limit`` bytes."""
    import gdown
    from gdown.exceptions import DownloadError, FileURLRetrievalError

    def bound(done: int, total: int | None) -> None:
        if done > limit or (total or 0) > limit:
            raise DataError(
                f"{label}: {max(done, total or 0):,} bytes, over the bound of {limit:,} "
                f"(raise data.download.max_bytes if the file is right); the partial file is deleted"
            )

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        gdown.download(
            url,
            str(dest),
            quiet=not progress,
            resume=True,
            retries=opts.retries,
            timeout=(opts.connect_timeout_s, opts.timeout_s),
            progress=bound,
        )
    except DataError:
        for part in _partials(dest):
            part.unlink(missing_ok=True)
        raise
    except FileURLRetrievalError as exc:
        raise DataError(
            f"{label}: Google Drive did not give the file ({shorten(str(exc), 400)}); "
            f"download {url} in a browser and give it as a local archive"
        ) from exc
    except (DownloadError, requests.RequestException) as exc:
        raise DataError(
            f"{label}: download failed ({type(exc).__name__}: {shorten(str(exc), 300)}); "
            "a partial file is kept and resumed next time"
        ) from exc
    return dest
