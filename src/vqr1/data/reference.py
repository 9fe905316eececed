"""The reference repository's label files: the paper's own ground truth (SPEC §5).

TianheWu/VisualQuality-R1 ships, under ``datasets/``, the eight test sets' labels as the paper scored
them (``test_data_label/<Set>_test_all.txt``) and the KADID-10K split lists
(``KADID-10K/KADID-10K_<split>_set.txt``). They fix the paper's image lists and scales (KonIQ's is a
rescale of MOS_zscore, not of MOS), so they are the default ground truth and the dataset archives
supply only the images. The files come from a pinned commit (``data.reference_labels.url``) or a local
copy of that folder (``data.reference_labels.dir``) and are checked against ``datasets.lock.yaml``
like every archive (the committed lock holds their sha256 at the pinned commit).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from vqr1.config import DataParams
from vqr1.data import download
from vqr1.data.catalogue import Dataset
from vqr1.data.labels import MAX_LABEL_BYTES
from vqr1.errors import DataError

LOCK_KEY = "reference_labels"
FETCHED_DIR = Path("data/reference_labels")


def paths(root: Path, entry: Dataset, data: DataParams, progress: bool = True) -> list[Path]:
    """The entry's reference label files on disk (fetched on first use), each checksum-verified."""
    if entry.reference is None:
        raise DataError(f"{entry.name}: the reference repository has no label file for {entry.title}")
    source = data.reference_labels
    out = []
    for rel in entry.reference.files:
        if source.dir:
            folder = Path(source.dir) if Path(source.dir).is_absolute() else Path(root) / source.dir
            path = folder / rel
            if not path.is_file():
                raise DataError(
                    f"{entry.name}: reference label file {path} missing (data.reference_labels.dir)"
                )
        else:
            path = Path(root) / FETCHED_DIR / rel
            if not path.is_file():
                url = f"{source.url.rstrip('/')}/{rel}"
                download.fetch_url(
                    url,
                    path,
                    data.download,
                    MAX_LABEL_BYTES,
                    label=PurePosixPath(rel).name,
                    progress=progress,
                )
        try:
            digest = download.verify(Path(root), LOCK_KEY, path, None)
            if digest is not None:
                read(path, entry)  # a file nobody vouched for is locked only once it parses
                download.record(Path(root), LOCK_KEY, {path.name: digest})
        except DataError:
            if not source.dir:
                path.unlink(missing_ok=True)  # fetched and refused: the next run fetches it again
            raise
        out.append(path)
    return out


def read(path: Path, entry: Dataset) -> pd.DataFrame:
    """One reference label file: whitespace-separated lines with the entry's columns, ``mos`` as float.

    Lines are ``name mos [std]`` or ``ref name mos [std]`` (SPEC §5); a line with another number of
    fields is a DataError naming the file and line. A MOS that is no number becomes NaN for the gate.
    """
    assert entry.reference is not None
    columns = entry.reference.columns
    rows = []
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(columns):
            raise DataError(
                f"{entry.name}: {path}:{number}: expected {len(columns)} fields "
                f"({' '.join(columns)}), got {len(parts)}: {line.strip()[:200]!r}"
            )
        rows.append(parts)
    if not rows:
        raise DataError(f"{entry.name}: {path}: the reference label file lists no images")
    frame = pd.DataFrame(rows, columns=list(columns))
    frame["mos"] = pd.to_numeric(frame["mos"], errors="coerce")
    frame["file"] = path.name
    return frame


def table(root: Path, entry: Dataset, data: DataParams, progress: bool = True) -> pd.DataFrame:
    """Every row of the entry's reference label files, with the file each row came from."""
    return pd.concat([read(p, entry) for p in paths(root, entry, data, progress)], ignore_index=True)
