"""The dataset catalogue: the one place that knows where each set comes from and what it must look like.

Every other data module (download, labels, reference, normalize, gate) reads its facts from here, so
adding a dataset is one entry. Layouts and label formats were checked against public sources (the
reference repository's label files, the datasets' releases as read by IQA-PyTorch, hyperIQA, UNIQUE and
AFINE); docs/data.md cites the source of each.

A set may come in several pieces (``parts``: KonIQ's images and scores zips, AGIQA-3K's images zip and
its data.csv). Sources, in order of precedence: env ``VQR1_<NAME>_URL`` / ``VQR1_<NAME>_ARCHIVE`` /
``VQR1_<NAME>_SHA256`` or ``data.sources.<name>.{url, archive, sha256}`` (one file holding the whole
set: it replaces every part), then ``data.sources.<name>.parts.<part>`` (one piece), then the mirror
named by ``data.mirror`` for the sets it carries (opt-in: a mirror redistributes research-licence
data), then the catalogue's own sources: the authors' URLs and single-file Google Drive releases.

A source is a URL whose form says how it is fetched (:func:`source_kind`): ``hf://datasets/<repo>@<rev>/
<file>`` through huggingface_hub, ``https://drive.google.com/uc?id=<id>`` through gdown, anything else
over plain HTTP.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlparse

from vqr1.config import DataParams, PartSource, SourceOverride
from vqr1.errors import ConfigError
from vqr1.naming import check_name

if TYPE_CHECKING:
    from vqr1.data.synth import SynthSpec


@dataclass(frozen=True)
class Archive:
    """One piece of a set: fetched from ``url`` or read from ``local``; neither = no public direct URL.

    ``sha256=None`` means "record it in the lock once the set extracted and parsed". ``extract=False``
    marks a plain file (AGIQA-3K's data.csv) that is copied into the set's folder as it is. ``size`` is the
    expected size in bytes (an estimate unless noted): with ``data.download.size_margin`` it bounds what
    a download may write, so a hostile or broken mirror cannot fill the disk.
    """

    part: str
    url: str
    filename: str
    sha256: str | None = None
    extract: bool = True
    local: str | None = None  # a local path (relative to the workspace root, or absolute)
    size: int | None = None


@dataclass(frozen=True)
class ReferenceLabels:
    """A set's label file(s) in the reference repository's ``datasets/`` folder (vqr1.data.reference)."""

    files: tuple[str, ...]  # paths under datasets/
    columns: tuple[str, ...]  # the whitespace-separated fields of a line: image, ref, mos, std
    mos_range: tuple[float, float]  # the file's scale; the gate checks mos_raw inside it


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    parser: str | None  # key of vqr1.data.labels.PARSERS; None = no public labels but the reference's
    label: str  # file name (or glob) of the native label file, found anywhere under data/raw/<name>/
    mos_range: tuple[float, float]  # native scale as published; the gate checks mos_raw inside it
    higher_better: bool  # False for DMOS sets: normalisation flips them
    count: int | None  # expected images; None = not fixed (the synthetic set)
    homepage: str  # where a person gets the set by hand
    archives: tuple[Archive, ...] = ()  # its pieces; a piece without url needs a local file or a mirror
    has_references: bool = False
    optional: bool = False
    generated: bool = False  # built locally (vqr1.data.synth) unless a source override is given
    reference: ReferenceLabels | None = None  # the paper's labels in the reference repository
    exclude_dirs: tuple[str, ...] = ()  # folders whose images are not part of the set (same names)
    # folders holding copies of the same images at other resolutions, the one the paper read first
    resolutions: tuple[str, ...] = ()
    licence: str = ""  # terms of use, as the authors state them
    group_relative: bool = False  # scores are scaled within each reference group: report per-group SRCC
    notes: str = ""


LabelSource = Literal["reference", "native"]


def uses_reference(entry: Dataset, labels: LabelSource) -> bool:
    """True when the entry's labels come from the reference repository's files."""
    return entry.reference is not None and (labels == "reference" or entry.parser is None)


def mos_range(entry: Dataset, labels: LabelSource) -> tuple[float, float]:
    """The raw scale of the labels in use (the reference files rescaled some sets)."""
    if uses_reference(entry, labels):
        assert entry.reference is not None
        return entry.reference.mos_range
    return entry.mos_range


def _manual(filename: str, size: int, part: str = "archive") -> Archive:
    """A piece with no public direct URL: a local archive or a mirror must be given."""
    return Archive(part, "", filename, size=size)


MB, GB = 10**6, 10**9

SourceKind = Literal["url", "drive", "mirror", "local", "manual"]


def drive_url(file_id: str) -> str:
    """The download URL of a public Google Drive file (the id in its ``/file/d/<id>/view`` link)."""
    return f"https://drive.google.com/uc?id={file_id}"


def hub_url(repo: str, revision: str, filename: str) -> str:
    """A file of a dataset repository on the Hugging Face Hub, as huggingface_hub's ``hf://`` form."""
    return f"hf://datasets/{repo}@{revision}/{filename}"


def parse_hub_url(url: str) -> tuple[str, str, str]:
    """(repo, revision, filename) of an ``hf://datasets/<owner>/<name>@<rev>/<file>`` URL."""
    parsed = urlparse(url)
    owner, rest = parsed.netloc, parsed.path.lstrip("/")
    if parsed.scheme != "hf" or owner != "datasets" or "@" not in rest or "/" not in rest.split("@", 1)[1]:
        raise ConfigError(f"{url}: expected hf://datasets/<owner>/<name>@<revision>/<file>")
    repo, tail = rest.split("@", 1)
    revision, filename = tail.split("/", 1)
    return repo, revision, filename


def source_kind(piece: Archive) -> SourceKind:
    """How a piece is obtained: a local file, the Hub, Google Drive, plain HTTP, or by hand."""
    if piece.local is not None:
        return "local"
    if not piece.url:
        return "manual"
    parsed = urlparse(piece.url)
    if parsed.scheme == "hf":
        return "mirror"
    if parsed.hostname == "drive.google.com" and "id" in parse_qs(parsed.query):
        return "drive"
    return "url"


def source_host(piece: Archive) -> str:
    """A short name of where a piece comes from, for one-line listings."""
    kind = source_kind(piece)
    if kind == "mirror":
        repo = parse_hub_url(piece.url)[0]
        return next((f"mirror {m.name}" for m in MIRRORS.values() if m.repo == repo), f"Hub {repo}")
    if kind == "drive":
        return "Google Drive"
    if kind == "local":
        return f"local {piece.local}"
    if kind == "manual":
        return "manual"
    host = urlparse(piece.url).hostname or piece.url
    return "GitHub" if host.endswith(("github.com", "githubusercontent.com")) else host


@dataclass(frozen=True)
class MirrorFile:
    filename: str  # the archive in the repository
    size: int  # expected bytes (an estimate; the Hub's own size is checked against the bound)
    folder: str  # where the images are inside it


@dataclass(frozen=True)
class Mirror:
    """A public dataset repository on the Hugging Face Hub holding whole sets, one archive each."""

    name: str
    repo: str
    revision: str
    source: str  # where its file names and layouts are published
    licence: str
    files: dict[str, MirrorFile]

    def archive(self, name: str) -> Archive:
        item = self.files[name]
        return Archive(
            "archive", hub_url(self.repo, self.revision, item.filename), item.filename, size=item.size
        )


# IQA-PyTorch (pyiqa) at github chaofengc/IQA-PyTorch 01ae427f: pyiqa/data/dataset_api.py names the
# repository (snapshot_download('chaofengc/IQA-PyTorch-Datasets', repo_type='dataset'); code before
# 2024-11-18 named chaofengc/IQA-Toolbox-Datasets) and each set's file (dataset_download_name);
# pyiqa/default_dataset_configs.yml gives the folders inside (dataroot_target). Sizes are estimates.
MIRRORS: dict[str, Mirror] = {
    "iqa-pytorch": Mirror(
        "iqa-pytorch",
        "chaofengc/IQA-PyTorch-Datasets",
        "main",
        "github chaofengc/IQA-PyTorch: pyiqa/data/dataset_api.py, pyiqa/default_dataset_configs.yml",
        "redistributed for academic, research and educational use; each set's own terms still apply",
        {
            "kadid10k": MirrorFile("kadid10k.tgz", 3 * GB, "kadid10k/images"),
            "koniq10k": MirrorFile("koniq10k.tgz", 5 * GB, "koniq10k/1024x768 and koniq10k/512x384"),
            "spaq": MirrorFile("spaq.tgz", 35 * GB, "SPAQ/TestImage"),
            "live_challenge": MirrorFile("live_challenge.tgz", 1 * GB, "LIVEC/"),
            "tid2013": MirrorFile("tid2013.tgz", 2 * GB, "tid2013/distorted_images, reference_images"),
            "live": MirrorFile("live.tgz", 1 * GB, "LIVEIQA_release2/"),
            "csiq": MirrorFile("csiq.tgz", 1 * GB, "CSIQ/dst_imgs, CSIQ/src_imgs"),
        },
    )
}


_MMSP = "https://datasets.vqa.mmsp-kn.de/archives"
_TEST = "test_data_label"
KADID_LISTS = {split: f"KADID-10K/KADID-10K_{split}_set.txt" for split in ("train", "val", "test")}
# AGIQA-3K's data.csv at the commit that added it (github lcysyzxdxc/AGIQA-3k-Database, 2023-06-08)
_AGIQA_CSV = (
    "https://raw.githubusercontent.com/lcysyzxdxc/AGIQA-3k-Database/"
    "a1b51eb53348d30ccfc6bcf72e38f39a4f6768d0/data.csv"
)
_AGIQA_CSV_SHA256 = "4b1945c2137e196d9378b9cf4a114de2267b97a4724f0743e260287eb2ddd6c0"
# single public Google Drive files named in the authors' READMEs (see the entries below)
_AGIQA_DRIVE = "1ObuOZ6YZqZuxe4oRlaf3kdOBlTRg2GE4"
_SRIQA_DRIVE = "1LhtLNDl6Jxwi6CPPVjX2_w4zIDRLFfbO"

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
            archives=(Archive("archive", f"{_MMSP}/kadid10k.zip", "kadid10k.zip", size=3 * GB),),
            licence="terms at the homepage (not checked here)",
            has_references=True,
            reference=ReferenceLabels(
                tuple(KADID_LISTS.values()), ("ref", "image", "mos", "std"), (1.0, 5.0)
            ),
            notes="the `dmos` column is a MOS (higher = better); reference: the paper's split lists",
        ),
        Dataset(
            "koniq10k",
            "KonIQ-10k",
            parser="koniq",
            label="koniq10k_scores_and_distributions.csv",
            mos_range=(0.0, 100.0),
            higher_better=True,
            count=10_073,
            homepage="https://database.mmsp-kn.de/koniq-10k-database.html",
            archives=(
                Archive("images", f"{_MMSP}/koniq10k_1024x768.zip", "koniq10k_1024x768.zip", size=4 * GB),
                Archive(
                    "scores",
                    f"{_MMSP}/koniq10k_scores_and_distributions.zip",
                    "koniq10k_scores_and_distributions.zip",
                    size=2 * MB,
                ),
            ),
            reference=ReferenceLabels(
                (f"{_TEST}/KONIQ-10K_test_all.txt",), ("image", "mos", "std"), (1.0, 5.0)
            ),
            resolutions=("1024x768", "512x384"),
            licence="terms at the homepage (not checked here)",
            notes="native labels: MOS_zscore (the paper's labels rescale it, not MOS); images 1024x768",
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
            archives=(_manual("SPAQ.zip", 35 * GB),),
            reference=ReferenceLabels((f"{_TEST}/SPAQ_test_all.txt",), ("image", "mos", "std"), (1.0, 5.0)),
            licence="terms at the homepage (not checked here)",
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
            homepage=(
                "https://live.ece.utexas.edu/research/ChallengeDB/index.html: a Box share "
                "(https://utexas.app.box.com/v/ChallengeDB-release) that answers scripts with an HTML page, "
                "so download ChallengeDB_release.zip in a browser"
            ),
            archives=(_manual("ChallengeDB_release.zip", 1 * GB),),
            reference=ReferenceLabels(
                (f"{_TEST}/LIVEC_test_all.txt",), ("image", "mos", "std"), (0.0, 100.0)
            ),
            licence="terms at the homepage (not checked here)",
            notes="all 1,169 images, the 7 training images t1-t7 included",
        ),
        Dataset(
            "bid",
            "BID (blurred image database)",
            parser="bid",
            label="DatabaseGrades.xls",
            mos_range=(0.0, 5.0),
            higher_better=True,
            count=586,
            homepage=(
                "https://www.smt.ufrj.br/~eduardo/ImageDatabase.htm, or the Google Drive folder in the "
                "UNIQUE README (github zwx8981/UNIQUE): drive.google.com/drive/folders/"
                "1Qmtp-Fo1iiQiyf-9uRUpO-YAAM0mcIey (a folder, not one file)"
            ),
            archives=(_manual("ImageDatabase.zip", 2 * GB),),
            reference=ReferenceLabels((f"{_TEST}/BID_test_all.txt",), ("image", "mos"), (0.0, 100.0)),
            licence="terms at the homepage (not checked here)",
            notes="reference labels: the grade rescaled to 0-100",
        ),
        Dataset(
            "agiqa3k",
            "AGIQA-3K (AI-generated images)",
            parser="agiqa",
            label="data.csv",
            mos_range=(0.0, 5.0),
            higher_better=True,
            count=2_982,
            homepage="https://github.com/lcysyzxdxc/AGIQA-3k-Database (images: Google Drive / Quark links)",
            archives=(
                # README at 30ded2be: "AGIQA-3K.zip ... googledrive downloadlink" (file/d/<id>/view)
                Archive("images", drive_url(_AGIQA_DRIVE), "AGIQA-3K.zip", size=3 * GB),
                Archive("labels", _AGIQA_CSV, "data.csv", _AGIQA_CSV_SHA256, extract=False, size=2 * MB),
            ),
            reference=ReferenceLabels(
                (f"{_TEST}/AGIQA-3K_test_all.txt",), ("image", "mos", "std"), (0.0, 100.0)
            ),
            licence="MIT (LICENSE of the AGIQA-3k-Database repository)",
            notes="native labels: mos_quality (seen 0 to ~4.5)",
        ),
        Dataset(
            "sriqa_bench",
            "SRIQA-Bench (super-resolution)",
            parser="sriqa",
            label="*.txt",
            mos_range=(0.0, 100.0),
            higher_better=True,
            count=1_100,
            homepage="https://github.com/ChrisDud0257/AFINE (Google Drive link in its README)",
            # AFINE README at 1b49be74, "Download SRIQA-Bench": one Google Drive file (file/d/<id>/view)
            archives=(Archive("archive", drive_url(_SRIQA_DRIVE), "SRIQA-Bench.zip", size=5 * GB),),
            has_references=True,
            reference=ReferenceLabels(
                (f"{_TEST}/SRIQA-Bench_test_all.txt",), ("ref", "image", "mos"), (0.0, 100.0)
            ),
            exclude_dirs=("LRImages",),
            group_relative=True,
            licence="non-commercial academic research only, no redistribution (AFINE README)",
            notes="100 groups x 11, scores 0-100 within each group",
        ),
        Dataset(
            "deblurring",
            "Deblurring quality set",
            parser=None,
            label="",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=1_199,
            homepage="no public release found: the images from the VisualQuality-R1 authors or a mirror",
            archives=(_manual("deblurring.zip", 2 * GB, part="images"),),
            has_references=True,
            reference=ReferenceLabels((f"{_TEST}/Deblur_test_all.txt",), ("ref", "image", "mos"), (1.0, 5.0)),
            notes="40 blurred sources x 30 results, one missing; labels only in the reference repository",
        ),
        Dataset(
            "dehazing",
            "Dehazing quality set",
            parser=None,
            label="",
            mos_range=(1.0, 5.0),
            higher_better=True,
            count=600,
            homepage="no public release found: the images from the VisualQuality-R1 authors or a mirror",
            archives=(_manual("dehazing.zip", 1 * GB, part="images"),),
            has_references=True,
            reference=ReferenceLabels((f"{_TEST}/dehaze_test_all.txt",), ("ref", "image", "mos"), (1.0, 5.0)),
            notes="75 scenes x 8 methods; labels only in the reference repository",
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
            archives=(_manual("tid2013.zip", 2 * GB),),
            has_references=True,
            optional=True,
            licence="terms at the homepage (not checked here)",
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
            archives=(_manual("databaserelease2.zip", 1 * GB),),
            has_references=True,
            optional=True,
            licence="released by request form (terms not checked here)",
            notes="DMOS (lower = better): flipped; reference rows (orgs == 1) dropped",
        ),
        Dataset(
            "csiq",
            "CSIQ",
            parser="csiq",
            label="csiq*.xlsx",
            mos_range=(0.0, 1.0),
            higher_better=False,
            count=866,
            homepage="https://s2.smu.edu/~eclarson/csiq.html",
            archives=(_manual("CSIQ.zip", 1 * GB),),
            has_references=True,
            optional=True,
            licence="terms at the homepage (not checked here)",
            notes="DMOS (lower = better): flipped",
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
    """Images the labels must list: data.gate.expected_counts, the catalogued count or the synthetic size."""
    if entry.name in data.gate.expected_counts:
        return data.gate.expected_counts[entry.name]
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
    """params ``data.sources.<name>`` with the env variables laid over its whole-set keys (env wins)."""
    base = data.sources.get(name, SourceOverride())
    merged = {key: _env(name, key.upper()) or getattr(base, key) for key in ("url", "archive", "sha256")}
    if merged["url"] and merged["archive"]:
        raise ConfigError(f"{name}: give either a url or a local archive as its source, not both")
    return SourceOverride(**merged, parts=base.parts)


def url_filename(url: str) -> str:
    """The file name a URL downloads to (its last path segment)."""
    name = PurePosixPath(urlparse(url).path).name
    if not name:
        raise ConfigError(f"{url}: the URL names no file")
    return name


@dataclass(frozen=True)
class Plan:
    """What the download stage will do for one dataset: generate it, or fetch/read its pieces."""

    entry: Dataset
    archives: tuple[Archive, ...] = ()
    generate: bool = False

    @property
    def missing(self) -> list[Archive]:
        """Pieces with no source: fetched by hand, then named in data.sources."""
        return [a for a in self.archives if source_kind(a) == "manual"]


def _from_source(piece: Archive, source: PartSource | SourceOverride) -> Archive | None:
    """``piece`` taken from a user source (local file or mirror URL), or None when it gives neither."""
    if source.archive:
        name = PurePosixPath(source.archive.replace("\\", "/")).name
        return replace(piece, url="", filename=name, sha256=source.sha256, local=source.archive)
    if source.url:
        return replace(piece, url=source.url, filename=url_filename(source.url), sha256=source.sha256)
    return None


def _whole_size(entry: Dataset, data: DataParams) -> int | None:
    """Expected size of one file holding the whole set: its pieces together, or the generated set raw."""
    if entry.generated:
        spec = synth_spec(data)
        return spec.n_images * (spec.width * spec.height * 3 + 4096) + MB  # uncompressed RGB, the labels
    if not entry.archives or any(a.size is None for a in entry.archives):
        return None
    return sum(a.size or 0 for a in entry.archives)


def download_limit(entry: Dataset, piece: Archive, data: DataParams) -> int:
    """The most bytes ``piece`` may have: data.download.max_bytes.<set>, else its size x size_margin."""
    limits = data.download
    if entry.name in limits.max_bytes:
        return limits.max_bytes[entry.name]
    if piece.size is None:
        return limits.max_extract_bytes  # unknown size: only the overall extraction bound applies
    return int(piece.size * limits.size_margin)


def human_size(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"about {size / GB:g} GB" if size >= GB else f"about {size / MB:g} MB"


def mirror_carrying(name: str) -> Mirror | None:
    """The first known mirror that carries set ``name``."""
    return next((m for m in MIRRORS.values() if name in m.files), None)


def directions(entry: Dataset, missing: list[Archive], locked: dict[str, str] | None = None) -> list[str]:
    """What to fetch by hand for ``missing`` pieces of ``entry`` and the exact lines that name it.

    ``locked`` (file name -> sha256, the workspace's lock) supplies a checksum the catalogue lacks.
    """
    name, env = entry.name, f"VQR1_{entry.name.upper()}_ARCHIVE"
    whole = len(entry.archives) == 1
    lines = [f"{name}: {entry.title} has no download source for {', '.join(p.filename for p in missing)}"]
    lines.append(f"  where: {entry.homepage}")
    for piece in missing:
        sha = piece.sha256 or (locked or {}).get(piece.filename)
        lines.append(
            f"  file {piece.filename} ({human_size(piece.size)}), sha256 {sha or 'unknown (locked on first use)'}"
        )
        path = f"/path/to/{piece.filename}"
        line = f"{{archive: {path}}}" if whole else f"{{parts: {{{piece.part}: {{archive: {path}}}}}}}"
        lines.append(f"  then add under data.sources in params.yaml:  {name}: {line}")
        if whole:
            lines.append(f"  or set in the environment:  {env}={path}")
    mirror = mirror_carrying(name)
    if mirror is not None:
        lines.append(f"  or opt in to the {mirror.name} mirror, which carries it: data.mirror: {mirror.name}")
    return lines


def mirror_archive(name: str, data: DataParams) -> Archive | None:
    """The whole set from the mirror ``data.mirror`` names, when it carries the set."""
    if data.mirror is None:
        return None
    mirror = MIRRORS[data.mirror]
    return mirror.archive(name) if name in mirror.files else None


def resolve(name: str, data: DataParams) -> Plan:
    """Each piece of ``name`` with its source, pieces without one included (:attr:`Plan.missing`)."""
    entry = get(name)
    override = source_override(name, data)
    unknown = sorted(set(override.parts) - {a.part for a in entry.archives})
    if unknown:
        raise ConfigError(
            f"data.sources.{name}.parts: unknown part(s) {unknown}; "
            f"{entry.title} has {[a.part for a in entry.archives] or 'no parts'}"
        )
    whole = _from_source(Archive("archive", "", "", size=_whole_size(entry, data)), override)
    if whole is not None:
        return Plan(entry, archives=(whole,))
    if entry.generated:
        return Plan(entry, generate=True)
    mirrored = None if override.parts else mirror_archive(name, data)
    if mirrored is not None:
        return Plan(entry, archives=(mirrored,))
    pieces = []
    for piece in entry.archives:
        given = override.parts.get(piece.part)
        pieces.append((given and _from_source(piece, given)) or piece)
    names = [p.filename for p in pieces]
    if len(set(names)) != len(names):
        raise ConfigError(f"{name}: two parts would be saved under the same file name: {names}")
    return Plan(entry, archives=tuple(pieces))


def plan(name: str, data: DataParams) -> Plan:
    """Resolve the pieces of ``name``; a piece without a source stops with directions."""
    resolved = resolve(name, data)
    if resolved.missing:
        raise ConfigError("\n".join(directions(resolved.entry, resolved.missing)))
    return resolved
