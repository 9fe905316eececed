"""The dataset catalogue: the one place that knows where each set comes from and what it must look like.

Every other data module (download, labels, normalize, gate) reads its facts from here, so adding a
dataset is one entry. Facts come from SPEC §2; anything not confirmed against the real files is
marked (unverified) in ``notes`` and in docs/data.md.

Sources, in order of precedence: env ``VQR1_<NAME>_URL`` / ``VQR1_<NAME>_ARCHIVE`` / ``VQR1_<NAME>_SHA256``,
then ``data.sources.<name>`` in params.yaml, then the catalogue's own archives. A URL or archive
override replaces *all* of the entry's archives with that one file (a mirror holding the whole set).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from vqr1.config import DataParams, SourceOverride
from vqr1.errors import ConfigError
from vqr1.naming import check_name

if TYPE_CHECKING:
    from vqr1.data.synth import SynthSpec


@dataclass(frozen=True)
class Archive:
    """One downloadable file; ``sha256=None`` means "record it in the lock on first download"."""

    url: str
    filename: str
    sha256: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    parser: str  # key of vqr1.data.labels.PARSERS
    label: str  # file name (or glob) of the label file, found anywhere under data/raw/<name>/
    mos_range: tuple[float, float]  # raw scale as published; the gate checks mos_raw inside it
    higher_better: bool  # False for DMOS sets: normalisation flips them
    count: int | None  # expected images in the label file; None = not fixed (the synthetic set)
    homepage: str  # where a person gets the set by hand
    archives: tuple[Archive, ...] = ()  # empty = manual-only: needs a local archive or a mirror URL
    has_references: bool = False
    optional: bool = False
    generated: bool = False  # built locally (vqr1.data.synth) unless a source override is given
    notes: str = ""


_MMSP = "https://datasets.vqa.mmsp-kn.de/archives"

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            "synthetic",
            "Synthetic KADID-format set (vqr1.data.synth)",
            parser="kadid",
            label="dmos.csv",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=None,
            homepage="generated locally from photographs bundled with scikit-image and matplotlib",
            has_references=True,
            generated=True,
            notes="size from data.synthetic; a url/archive override serves a prebuilt KADID-format zip",
        ),
        Dataset(
            "kadid10k",
            "KADID-10K",
            parser="kadid",
            label="dmos.csv",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=10_125,
            homepage="https://database.mmsp-kn.de/kadid-10k-database.html",
            archives=(Archive(f"{_MMSP}/kadid10k.zip", "kadid10k.zip"),),
            has_references=True,
            notes="~3 GB zip (size unverified); the `dmos` column is a MOS (higher = better)",
        ),
        Dataset(
            "koniq10k",
            "KonIQ-10k",
            parser="koniq",
            label="koniq10k_scores_and_distributions.csv",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=10_073,
            homepage="https://database.mmsp-kn.de/koniq-10k-database.html",
            archives=(
                Archive(f"{_MMSP}/koniq10k_1024x768.zip", "koniq10k_1024x768.zip"),
                Archive(
                    f"{_MMSP}/koniq10k_scores_and_distributions.zip", "koniq10k_scores_and_distributions.zip"
                ),
            ),
            notes="the MOS column (1-5) is used, not MOS_zscore",
        ),
        Dataset(
            "spaq",
            "SPAQ",
            parser="spaq",
            label="MOS and Image attribute scores.xlsx",
            mos_range=(0.0, 100.0),
            higher_better=True,
            count=11_125,
            homepage="https://github.com/h4nwei/SPAQ (Google Drive / Baidu links)",
            notes="full-resolution phone photos; resize the short edge to 768 before scoring",
        ),
        Dataset(
            "live_challenge",
            "LIVE In the Wild Image Quality Challenge (CLIVE)",
            parser="clive",
            label="AllMOS_release.mat",
            mos_range=(0.0, 100.0),
            higher_better=True,
            count=1_169,
            homepage="https://live.ece.utexas.edu/research/ChallengeDB/index.html",
            archives=(
                Archive(
                    "https://live.ece.utexas.edu/research/ChallengeDB/ChallengeDB_release.zip",
                    "ChallengeDB_release.zip",
                ),
            ),
            notes="URL (unverified); all 1,169 images, the 7 training images t1-t7 included",
        ),
        Dataset(
            "bid",
            "BID (blurred image database)",
            parser="bid",
            label="DatabaseGrades.xls",
            mos_range=(0.0, 5.0),
            higher_better=True,
            count=586,
            homepage="https://www.smt.ufrj.br/~eduardo/ImageDatabase.htm",
            notes="column names of DatabaseGrades.xls (unverified): an image-number and a grade column",
        ),
        Dataset(
            "agiqa3k",
            "AGIQA-3K (AI-generated images)",
            parser="agiqa",
            label="data.csv",
            mos_range=(0.0, 5.0),
            higher_better=True,
            count=2_982,
            homepage="https://github.com/lcysyzxdxc/AGIQA-3k-Database",
            notes="MIT licence; mos_quality is used (seen 0 to ~4.5)",
        ),
        Dataset(
            "sriqa_bench",
            "SRIQA-Bench (super-resolution)",
            parser="sriqa",
            label="x*.txt",
            mos_range=(0.0, 100.0),
            higher_better=True,
            count=1_100,
            homepage="see the VisualQuality-R1 README (github TianheWu/VisualQuality-R1)",
            notes="non-commercial, no redistribution; layout MOS/x{i}.txt with `name score` lines (unverified)",
        ),
        Dataset(
            "deblurring",
            "Deblurring quality set",
            parser="ref_dist_mos",
            label="*mos*.txt",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=1_199,
            homepage="see the VisualQuality-R1 README (probably Liu et al. 2013, unverified)",
            has_references=True,
            notes="40 blurred sources x 30 results, one missing",
        ),
        Dataset(
            "dehazing",
            "Dehazing quality set",
            parser="ref_dist_mos",
            label="*mos*.txt",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=600,
            homepage="see the VisualQuality-R1 README (probably SHRQ, unverified)",
            has_references=True,
            notes="75 scenes x 8 methods",
        ),
        Dataset(
            "tid2013",
            "TID2013",
            parser="tid2013",
            label="mos_with_names.txt",
            mos_range=(0.0, 9.0),
            higher_better=True,
            count=3_000,
            homepage="https://www.ponomarenko.info/tid2013.htm (a .rar: repack as zip or tar)",
            has_references=True,
            optional=True,
        ),
        Dataset(
            "live",
            "LIVE IQA release 2",
            parser="live",
            label="dmos.mat",
            mos_range=(0.0, 100.0),
            higher_better=False,
            count=779,
            homepage="https://live.ece.utexas.edu/research/quality/subjective.htm (request form)",
            has_references=True,
            optional=True,
            notes="DMOS (lower = better): flipped; reference rows (orgs == 1) dropped; range (unverified)",
        ),
        Dataset(
            "csiq",
            "CSIQ",
            parser="csiq",
            label="csiq.DMOS.xlsx",
            mos_range=(0.0, 1.0),
            higher_better=False,
            count=866,
            homepage="https://s2.smu.edu/~eclarson/csiq.html",
            has_references=True,
            optional=True,
            notes="DMOS (lower = better): flipped; sheet/column names (unverified)",
        ),
    ]
}


def get(name: str) -> Dataset:
    """The catalogue entry for ``name``, or a ConfigError listing the known names."""
    try:
        check_name("dataset name", name)  # names arrive from the command line too (stage, vqr1 data)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}; the catalogue knows {sorted(DATASETS)}") from None


def expected_count(entry: Dataset, data: DataParams) -> int | None:
    """Images the label file must list: the catalogued count, or the configured synthetic size."""
    if entry.generated:
        return synth_spec(data).n_images
    return entry.count


def synth_spec(data: DataParams) -> SynthSpec:
    """The generated set's spec from ``data.synthetic``."""
    from vqr1.data.synth import SynthSpec

    return SynthSpec(**data.synthetic.model_dump())


def _env(name: str, key: str) -> str | None:
    return os.environ.get(f"VQR1_{name.upper()}_{key}") or None


def source_override(name: str, data: DataParams) -> SourceOverride:
    """params ``data.sources.<name>`` with the env variables laid over it (env wins)."""
    base = data.sources.get(name, SourceOverride())
    merged = {key: _env(name, key.upper()) or getattr(base, key) for key in ("url", "archive", "sha256")}
    if merged["url"] and merged["archive"]:
        raise ConfigError(f"{name}: give either a url or a local archive as its source, not both")
    return SourceOverride(**merged)


def url_filename(url: str) -> str:
    """The file name a URL downloads to (its last path segment)."""
    name = PurePosixPath(urlparse(url).path).name
    if not name:
        raise ConfigError(f"{url}: the URL names no file")
    return name


@dataclass(frozen=True)
class Plan:
    """What the download stage will do for one dataset: generate, fetch URLs, or read local archives."""

    entry: Dataset
    archives: tuple[Archive, ...] = ()
    local: str | None = None  # a local archive path (relative to the workspace root, or absolute)
    generate: bool = False


def plan(name: str, data: DataParams) -> Plan:
    """Resolve the source of ``name``; a manual-only set without an archive stops with directions."""
    entry = get(name)
    override = source_override(name, data)
    if override.archive:
        archive = Archive("", PurePosixPath(override.archive).name, override.sha256)
        return Plan(entry, archives=(archive,), local=override.archive)
    if override.url:
        return Plan(entry, archives=(Archive(override.url, url_filename(override.url), override.sha256),))
    if entry.generated:
        return Plan(entry, generate=True)
    if entry.archives:
        return Plan(entry, archives=entry.archives)
    raise ConfigError(
        f"{name}: {entry.title} has no direct download URL. Get the archive from {entry.homepage}, "
        f"then set data.sources.{name}.archive in params.yaml (or env VQR1_{name.upper()}_ARCHIVE) to its "
        f"path, or data.sources.{name}.url (VQR1_{name.upper()}_URL) to a mirror."
    )
