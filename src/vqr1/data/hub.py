"""Fetch one file of a dataset repository on the Hugging Face Hub (a mirror, vqr1.data.catalogue.MIRRORS).

huggingface_hub does the transfer: resume of a cut download, its metadata under the target folder,
``HF_TOKEN`` for gated repositories, ``HF_ENDPOINT`` for another Hub, and its Xet transfer backend where
the repository serves it. Before any byte, the Hub's own metadata for the file (a HEAD on
``/datasets/<repo>/resolve/<rev>/<file>``: X-Repo-Commit, X-Linked-Etag = the sha256 of an LFS file,
X-Linked-Size) is read: a size over the bound is refused, and a sha256 that differs from the workspace's
lock stops before the download (the mirror's file changed since it was locked).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from vqr1.errors import DataError, shorten

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class HubFile:
    path: Path
    sha256: str | None  # the Hub's sha256 of the file (LFS files), None when it gives none
    commit: str  # the repository commit it came from


def _endpoint() -> str | None:
    """HF_ENDPOINT read at call time (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def fetch(
    repo: str, revision: str, filename: str, folder: Path, limit: int, label: str, locked: str | None
) -> HubFile:
    """Download ``filename`` of dataset repository ``repo`` into ``folder`` (at most ``limit`` bytes)."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled

    if constants.is_offline_mode():
        raise DataError(f"{label}: HF_HUB_OFFLINE is set, so the mirror {repo} cannot be reached; unset it")
    endpoint = _endpoint()
    url = hf_hub_url(repo, filename, repo_type="dataset", revision=revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, endpoint=endpoint, retry_on_errors=True)
    except GatedRepoError as exc:
        raise DataError(
            f"{label}: {repo} is gated: accept its terms on the Hub and set HF_TOKEN ({shorten(str(exc), 300)})"
        ) from exc
    except (HfHubHTTPError, OfflineModeIsEnabled, OSError) as exc:
        raise DataError(f"{label}: the Hub did not give {url} ({shorten(str(exc), 300)})") from exc
    if meta.commit_hash is None:
        raise DataError(f"{label}: {url} answered without X-Repo-Commit; it is not a Hugging Face Hub")
    if meta.size is not None and meta.size > limit:
        raise DataError(
            f"{label}: the Hub announces {meta.size:,} bytes, over the bound of {limit:,} "
            f"(raise data.download.max_bytes if the file is right); nothing downloaded"
        )
    sha = meta.etag if meta.etag and _SHA256.fullmatch(meta.etag) else None
    if sha and locked and sha != locked.lower():
        raise DataError(
            f"{label}: the Hub's sha256 {sha} differs from the locked {locked}: the mirror's file changed "
            f"since it was locked; nothing downloaded (delete the lock entry only if you trust the new file)"
        )
    try:
        path = hf_hub_download(
            repo,
            filename,
            repo_type="dataset",
            revision=meta.commit_hash,
            local_dir=folder,
            endpoint=endpoint,
        )
    except (HfHubHTTPError, OSError) as exc:
        raise DataError(f"{label}: download from {repo} failed ({shorten(str(exc), 300)})") from exc
    return HubFile(Path(path), sha, meta.commit_hash)
