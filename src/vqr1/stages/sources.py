"""DVC stage `sources`: what every dataset's download would read, into data/sources/<dataset>.json.

Why a stage of its own: a source given in the environment (VQR1_<NAME>_URL / _ARCHIVE / _SHA256) is
invisible to DVC, and so is a local archive replaced at the same path. This stage is ``always_changed``
(DVC runs it on every ``dvc repro``; it takes a fraction of a second and reads no archive) and writes
each dataset's resolved source (vqr1.data.download.source_record); ``download@<dataset>`` depends on its
own file, so DVC reruns exactly the downloads whose source changed. While any set the params need has
no source, it then fails with the full list (vqr1.data.status), not only the first download's.
"""

from __future__ import annotations

import json
from pathlib import Path

from vqr1 import layout
from vqr1.config import load_params
from vqr1.data import download, status
from vqr1.errors import exit_on_error
from vqr1.fsutil import atomic_dir


def record_sources() -> Path:
    root = Path.cwd()
    data = load_params("params.yaml").data
    with atomic_dir(root / layout.SOURCES_DIR) as tmp:
        for name in data.datasets:
            record = download.source_record(name, root, data)
            (tmp / f"{name}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    status.require_sources(root, data)
    return root / layout.SOURCES_DIR


if __name__ == "__main__":
    with exit_on_error():
        record_sources()
