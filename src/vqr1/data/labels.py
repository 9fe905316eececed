"""One parser per real label format (SPEC §2), all returning the same three columns.

Each parser reads a dataset's own label file from ``data/raw/<name>/`` and returns a frame with
``image`` (posix path relative to that folder), ``ref_id`` (reference image id, or None) and
``mos_raw`` (float, the published scale and direction). Structural problems (file missing, columns
missing or extra, malformed lines) raise DataError here; value problems (NaN or out-of-range MOS,
duplicates, missing or corrupt images) are left in the frame for the data gate to report.

Archives from mirrors nest folders differently, so label files are found anywhere under the
dataset folder and image names are resolved through an index of the image files present; a listed
image that is absent keeps its expected path so that the gate reports it.

Label files are input from strangers: a file larger than MAX_LABEL_BYTES is refused before it is read,
every listed name passes one check (check_image_name) before it touches the file system, and quoted
values are shortened (vqr1.errors.shorten) so an error stays one readable line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from vqr1 import layout
from vqr1.data.catalogue import Dataset
from vqr1.errors import DataError, shorten

COLUMNS = ["image", "ref_id", "mos_raw"]
# The largest real label file is about 1 MB (KonIQ's csv); anything near this is not a label file.
MAX_LABEL_BYTES = 64 << 20
NAME_MAX_BYTES = 255  # one path component, as every common file system allows


def check_image_name(name: str, where: str) -> None:
    """Refuse a listed image name that cannot name a file: empty, control characters (NUL...), a
    component over 255 bytes. ``where`` (dataset and label file) starts the message; the name is
    shown escaped, so a NUL never prints as if it named an existing file."""
    problem = None
    if not name.strip():
        problem = "is empty"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "contains a control character"
    elif any(len(part.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES for part in name.split("/")):
        problem = f"has a path component over {NAME_MAX_BYTES} bytes"
    if problem:
        raise DataError(f"{where}: image name {shorten(name)} {problem}")


Parser = Callable[[Path, Dataset], pd.DataFrame]


class _Images:
    """Resolves listed image names to files under the dataset folder, wherever a mirror put them."""

    def __init__(self, raw_dir: Path, entry: Dataset, label: Path | None = None) -> None:
        self.raw_dir, self.dataset = raw_dir, entry.name
        self.where = f"{entry.name}: {label}" if label else entry.name  # how errors name the label file
        skip = {"__MACOSX", *entry.exclude_dirs}
        self.by_name: dict[str, list[str]] = defaultdict(list)
        for path in raw_dir.rglob("*"):
            rel = path.relative_to(raw_dir)
            if path.suffix.lower() in layout.IMAGE_SUFFIXES and not skip.intersection(rel.parts):
                self.by_name[path.name.lower()].append(rel.as_posix())

    def resolve(self, name: str, preferred: Path) -> str:
        """``preferred`` if it exists, else the one file of that name, else ``preferred`` (gate flags it)."""
        posix = name.replace("\\", "/")
        check_image_name(posix, self.where)
        listed = PurePosixPath(posix)
        if listed.is_absolute() or ".." in listed.parts:  # a label row must not point outside the set
            raise DataError(
                f"{self.where}: image name {shorten(name)} in the label file leaves the dataset folder"
            )
        if (self.raw_dir / preferred).is_file():
            return PurePosixPath(preferred).as_posix()
        found = self.by_name.get(PurePosixPath(name).name.lower(), [])
        if len(found) > 1:
            raise DataError(f"{self.where}: image name {shorten(name)} is ambiguous: {sorted(found)[:3]}")
        return found[0] if found else PurePosixPath(preferred).as_posix()

    def resolve_all(self, names: Iterable[str], folder: Path) -> list[str]:
        return [self.resolve(str(n), folder / str(n)) for n in names]


def find_label(raw_dir: Path, entry: Dataset, pattern: str | None = None) -> Path:
    """The one label file matching ``pattern`` (default: the catalogue's) anywhere under ``raw_dir``."""
    pattern = pattern or entry.label
    found = sorted(p for p in Path(raw_dir).rglob(pattern) if p.is_file() and "__MACOSX" not in p.parts)
    if not found:
        raise DataError(f"{entry.name}: label file {pattern!r} not found under {raw_dir}")
    if len(found) > 1:
        raise DataError(f"{entry.name}: {len(found)} files match {pattern!r} under {raw_dir}: {found[:3]}")
    return found[0]


def _check_size(path: Path, entry: Dataset) -> None:
    """Every reader calls this first: a file too large to be a label file is refused unread."""
    size = path.stat().st_size
    if size > MAX_LABEL_BYTES:
        raise DataError(
            f"{entry.name}: {path}: {size:,} bytes is no label file (limit {MAX_LABEL_BYTES:,}); refused unread"
        )


def _check_columns(df: pd.DataFrame, path: Path, entry: Dataset, required: list[str], exact: bool) -> None:
    missing = [c for c in required if c not in df.columns]
    extra = [c for c in df.columns if c not in required] if exact else []
    if missing or extra:
        raise DataError(
            f"{entry.name}: {path}: label columns do not match the {entry.title} format "
            f"(missing {shorten(missing)}, extra {shorten(extra)}; expected {required})"
        )


def _frame(images: list[str], refs: Iterable[str | None], mos: Iterable[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image": images,
            "ref_id": pd.Series(list(refs), dtype=object),
            # text that is no number, and +-inf, become NaN: the gate reports those rows by image name
            "mos_raw": pd.to_numeric(pd.Series(list(mos), dtype=object), errors="coerce")
            .astype(float)
            .replace([np.inf, -np.inf], np.nan),
        },
        columns=COLUMNS,
    )


def _read_csv(path: Path, entry: Dataset) -> pd.DataFrame:
    """A UTF-8 csv label file; a malformed row or another encoding is a DataError naming the file."""
    _check_size(path, entry)
    try:
        return pd.read_csv(path, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise DataError(
            f"{entry.name}: {path}: empty label file ({path.stat().st_size} bytes, no header)"
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{entry.name}: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except pd.errors.ParserError as exc:
        detail = str(exc).strip().removeprefix("Error tokenizing data. C error: ")
        detail = detail if len(detail) <= 300 else shorten(detail, 300)
        raise DataError(f"{entry.name}: {path}: malformed csv: {detail}") from exc


def _read_text(path: Path, entry: Dataset) -> str:
    """A UTF-8 text label file; another encoding is a DataError naming the file."""
    _check_size(path, entry)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{entry.name}: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _read_table(path: Path, entry: Dataset, fields: int) -> list[list[str]]:
    """Whitespace-separated lines with exactly ``fields`` fields."""
    rows = []
    for number, line in enumerate(_read_text(path, entry).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != fields:
            raise DataError(
                f"{entry.name}: {path}:{number}: expected {fields} fields, got {len(parts)}: {shorten(line.strip())}"
            )
        rows.append(parts)
    if not rows:
        raise DataError(f"{entry.name}: {path}: empty label file (no label lines)")
    return rows


_HEADER_SEARCH_ROWS = 20


def _read_excel(path: Path, entry: Dataset, required: list[str]) -> pd.DataFrame:
    """The first sheet holding every required column, its header row found among the first rows.

    Column names are compared case-insensitively. Some workbooks start their table below empty rows and
    columns (CSIQ's DMOS workbook has its header on row 4 from column D), so the header is searched for.
    """
    _check_size(path, entry)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None)
    except (ValueError, OSError) as exc:
        raise DataError(f"{entry.name}: {path}: unreadable spreadsheet ({exc})") from exc
    wanted = {r.lower(): r for r in required}
    for sheet in sheets.values():
        for row in range(min(_HEADER_SEARCH_ROWS, len(sheet))):
            names = [str(v).strip() if pd.notna(v) else None for v in sheet.iloc[row]]
            lowered = {n.lower(): i for i, n in enumerate(names) if n}
            if all(w in lowered for w in wanted):
                keep = [i for i, n in enumerate(names) if n]
                frame = sheet.iloc[row + 1 :, keep].dropna(how="all").reset_index(drop=True)
                frame.columns = [wanted.get(names[i].lower(), names[i]) for i in keep]
                return frame
    found = {name: [str(v) for v in f.iloc[0]] if len(f) else [] for name, f in sheets.items()}
    raise DataError(
        f"{entry.name}: {path}: no sheet has the columns {required} (first rows: {shorten(found, 300)})"
    )


def parse_kadid(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """KADID-10K (and the synthetic set): ``dmos.csv`` = dist_img,ref_img,dmos,var; images in ``images/``."""
    path = find_label(raw_dir, entry)
    df = _read_csv(path, entry)
    _check_columns(df, path, entry, ["dist_img", "ref_img", "dmos", "var"], exact=True)
    folder = path.parent.relative_to(raw_dir) / "images"
    index = _Images(raw_dir, entry, path)
    images = index.resolve_all(df["dist_img"], folder)
    return _frame(images, reference_ids(df["ref_img"], df["dist_img"], index), df["dmos"])


def reference_ids(refs: Iterable[object], images: Iterable[object], index: _Images) -> list[str]:
    """The reference id (file stem) of each row, checked: the reference must name an image of the set, or
    the listed image must follow the set's naming ``<ref>_<...>`` (KADID: I01_03_02.png of I01.png).

    Why: rows are split by reference, so a bogus reference (a spreadsheet formula, an empty cell, a typo)
    would form a group of its own and put that image in another split than its siblings (a leak).
    """
    out = []
    for row, (ref, image) in enumerate(zip(refs, images, strict=True), start=1):
        name = PurePosixPath(str(ref).replace("\\", "/")).name
        stem = PurePosixPath(name).stem
        listed = PurePosixPath(str(image).replace("\\", "/")).stem
        if not stem or not (listed.startswith(stem + "_") or name.lower() in index.by_name):
            raise DataError(
                f"{index.where}: row {row}: reference {shorten(str(ref))} names no image of the set and "
                f"{shorten(str(image))} is not named after it (<reference>_...); a bogus reference group "
                "would defeat the split by reference"
            )
        out.append(stem)
    return out


KONIQ_COLUMNS = ["image_name", "c1", "c2", "c3", "c4", "c5", "c_total", "MOS", "SD", "MOS_zscore"]


def parse_koniq(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """KonIQ-10k: the scores csv; ``MOS_zscore`` (0-100), which the paper's labels rescale; ``1024x768/``."""
    path = find_label(raw_dir, entry)
    df = _read_csv(path, entry)
    _check_columns(df, path, entry, KONIQ_COLUMNS, exact=True)
    images = _Images(raw_dir, entry, path).resolve_all(df["image_name"], Path("1024x768"))
    return _frame(images, [None] * len(df), df["MOS_zscore"])


def parse_spaq(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """SPAQ: ``MOS and Image attribute scores.xlsx`` (Image name, MOS 0-100, attributes); ``TestImage/``."""
    path = find_label(raw_dir, entry)
    df = _read_excel(path, entry, ["Image name", "MOS"])
    images = _Images(raw_dir, entry, path).resolve_all(df["Image name"], Path("TestImage"))
    return _frame(images, [None] * len(df), df["MOS"])


def _mat_strings(values: np.ndarray) -> list[str]:
    """A MATLAB cell array of strings as loaded by scipy.io.loadmat, flattened to Python strings."""
    out = []
    for v in np.asarray(values, dtype=object).ravel():
        while isinstance(v, np.ndarray):
            v = v.ravel()[0] if v.size else ""
        out.append(str(v))
    return out


def _loadmat(path: Path, entry: Dataset, key: str) -> np.ndarray:
    from scipy.io import loadmat

    _check_size(path, entry)
    try:
        content = loadmat(path)
    except (ValueError, OSError, TypeError) as exc:
        raise DataError(f"{entry.name}: {path}: unreadable .mat file ({exc})") from exc
    if key not in content:
        found = sorted(k for k in content if not k.startswith("__"))
        raise DataError(f"{entry.name}: {path}: variable {key!r} missing (found {found})")
    return content[key]


def parse_clive(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """LIVE Challenge: ``Data/AllMOS_release.mat`` + ``Data/AllImages_release.mat``; images in ``Images/``."""
    mos_path = find_label(raw_dir, entry)
    names_path = find_label(raw_dir, entry, "AllImages_release.mat")
    mos = np.asarray(_loadmat(mos_path, entry, "AllMOS_release"), dtype=float).ravel()
    names = _mat_strings(_loadmat(names_path, entry, "AllImages_release"))
    if len(mos) != len(names):
        raise DataError(f"{entry.name}: {mos_path}: {len(mos)} scores but {len(names)} image names")
    folder = mos_path.parent.parent.relative_to(raw_dir) / "Images"
    return _frame(_Images(raw_dir, entry, names_path).resolve_all(names, folder), [None] * len(names), mos)


def parse_bid(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """BID: ``DatabaseGrades.xls`` (Image Number, Average Subjective Grade 0-5); ``DatabaseImageNNNN.JPG``."""
    path = find_label(raw_dir, entry)
    df = _read_excel(path, entry, ["Image Number", "Average Subjective Grade"])
    numbers = pd.to_numeric(df["Image Number"], errors="coerce")
    if numbers.isna().any():
        raise DataError(
            f"{entry.name}: {path}: non-numeric 'Image Number' in row {int(numbers.isna().idxmax()) + 2}"
        )
    names = [f"DatabaseImage{int(n):04d}.JPG" for n in numbers]
    images = _Images(raw_dir, entry, path).resolve_all(names, path.parent.relative_to(raw_dir))
    return _frame(images, [None] * len(df), df["Average Subjective Grade"])


def parse_agiqa(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """AGIQA-3K: ``data.csv`` with name, prompt, ..., mos_quality, std_quality, mos_align, std_align."""
    path = find_label(raw_dir, entry)
    df = _read_csv(path, entry)
    _check_columns(df, path, entry, ["name", "prompt", "mos_quality", "std_quality"], exact=False)
    images = _Images(raw_dir, entry, path).resolve_all(df["name"], path.parent.relative_to(raw_dir))
    return _frame(images, [None] * len(df), df["mos_quality"])


def parse_sriqa(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """SRIQA-Bench: ``MOS/<group>.txt`` per group of 11, lines ``name,score`` (0-100 within the group).

    Images ``images/<Method>x4/<group>_<Method>x4.png`` and ``images/Original/<group>_Original.png``;
    ``LRImages/`` repeats the originals' names and is not part of the set (catalogue exclude_dirs).
    ``MOS_Reg/`` and ``MOS_Gen/`` hold subsets of the same scores and are not read.
    """
    files = sorted(p for p in raw_dir.rglob(entry.label) if p.is_file() and p.parent.name == "MOS")
    if not files:
        raise DataError(f"{entry.name}: no MOS/<group>.txt label files under {raw_dir}")
    index = _Images(raw_dir, entry)
    images, refs, mos = [], [], []
    for path in files:
        base = path.parent.parent.relative_to(raw_dir) / "images"
        for number, line in enumerate(_read_text(path, entry).splitlines(), 1):
            parts = [p.strip() for p in (line.split(",") if "," in line else line.split())]
            if not any(parts):
                continue
            if len(parts) != 2:
                raise DataError(
                    f"{entry.name}: {path}:{number}: expected `name,score`, got {line.strip()[:200]!r}"
                )
            name, score = parts
            method = PurePosixPath(name).stem.partition("_")[2]  # online1_SwinIRx4.png -> SwinIRx4
            images.append(index.resolve(name, base / method / name))
            refs.append(f"{path.stem}_Original")
            mos.append(score)
    return _frame(images, refs, mos)


def from_reference(raw_dir: Path, entry: Dataset, table: pd.DataFrame) -> pd.DataFrame:
    """The reference repository's label rows (vqr1.data.reference.table) with images resolved here.

    The files give base names only, so every image is found by name anywhere under the set's folder.
    """
    index = _Images(raw_dir, entry)
    images = [index.resolve(str(n), Path(str(n))) for n in table["image"]]
    refs = [PurePosixPath(str(r)).stem for r in table["ref"]] if "ref" in table else [None] * len(table)
    return _frame(images, refs, table["mos"])


def parse_tid2013(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """TID2013: ``mos_with_names.txt`` lines ``mos name`` (0-9); ``distorted_images/iRR_TT_L.bmp``."""
    path = find_label(raw_dir, entry)
    rows = _read_table(path, entry, fields=2)
    names = [r[1] for r in rows]
    images = _Images(raw_dir, entry, path).resolve_all(
        names, path.parent.relative_to(raw_dir) / "distorted_images"
    )
    return _frame(images, [n[:3].upper() for n in names], [r[0] for r in rows])


# LIVE release 2: dmos.mat lists the five distortion folders in this order, images img1..imgN each.
LIVE_FOLDERS = (("jp2k", 227), ("jpeg", 233), ("wn", 174), ("gblur", 174), ("fastfading", 174))


def parse_live(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """LIVE: ``dmos.mat`` (dmos, orgs) + ``refnames_all.mat``; reference rows (orgs == 1) dropped."""
    path = find_label(raw_dir, entry)
    dmos = np.asarray(_loadmat(path, entry, "dmos"), dtype=float).ravel()
    orgs = np.asarray(_loadmat(path, entry, "orgs")).ravel()
    refs = _mat_strings(_loadmat(find_label(raw_dir, entry, "refnames_all.mat"), entry, "refnames_all"))
    expected = sum(n for _, n in LIVE_FOLDERS)
    if not len(dmos) == len(orgs) == len(refs) == expected:
        raise DataError(
            f"{entry.name}: {path}: expected {expected} entries in dmos/orgs/refnames_all, "
            f"got {len(dmos)}/{len(orgs)}/{len(refs)}"
        )
    base = path.parent.relative_to(raw_dir)
    names = [f"{folder}/img{i}.bmp" for folder, n in LIVE_FOLDERS for i in range(1, n + 1)]
    index = _Images(raw_dir, entry)
    keep = orgs == 0
    images = [index.resolve(n, base / n) for n, k in zip(names, keep, strict=True) if k]
    ref_ids = [PurePosixPath(r).stem for r, k in zip(refs, keep, strict=True) if k]
    return _frame(images, ref_ids, dmos[keep])


# CSIQ dst_type values -> the tag in the image file names (UNIQUE IQA_database/data_csiq.m and its
# copy of the DMOS workbook).
CSIQ_TAGS = {
    "noise": "AWGN",
    "jpeg": "JPEG",
    "jpeg 2000": "jpeg2000",
    "fnoise": "fnoise",
    "blur": "BLUR",
    "contrast": "contrast",
}


def parse_csiq(raw_dir: Path, entry: Dataset) -> pd.DataFrame:
    """CSIQ: the DMOS workbook (sheet all_by_image: image, dst_idx, dst_type, dst_lev, dmos_std, dmos);
    images ``dst_imgs/<type>/<image>.<TAG>.<lev>.png``."""
    path = find_label(raw_dir, entry)
    df = _read_excel(path, entry, ["image", "dst_type", "dst_lev", "dmos"])
    unknown = sorted(set(df["dst_type"].astype(str).str.lower()) - set(CSIQ_TAGS))
    if unknown:
        raise DataError(f"{entry.name}: {path}: unknown dst_type values {unknown}")
    names = [
        f"{img}.{CSIQ_TAGS[str(t).lower()]}.{int(lev)}.png"
        for img, t, lev in zip(df["image"], df["dst_type"], df["dst_lev"], strict=True)
    ]
    folder = path.parent.relative_to(raw_dir) / "dst_imgs"
    images = _Images(raw_dir, entry, path).resolve_all(names, folder)
    return _frame(images, [str(i) for i in df["image"]], df["dmos"])


PARSERS: dict[str, Parser] = {
    "kadid": parse_kadid,
    "koniq": parse_koniq,
    "spaq": parse_spaq,
    "clive": parse_clive,
    "bid": parse_bid,
    "agiqa": parse_agiqa,
    "sriqa": parse_sriqa,
    "tid2013": parse_tid2013,
    "live": parse_live,
    "csiq": parse_csiq,
}


def parse(raw_dir: Path, entry: Dataset, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """The set's label rows: from the reference files' ``reference`` table if given, else its own parser.

    A missing folder says which stage to run.
    """
    if not Path(raw_dir).is_dir():
        raise DataError(f"{entry.name}: {raw_dir} does not exist; run the download stage first")
    if reference is not None:
        return from_reference(Path(raw_dir), entry, reference)
    if entry.parser is None:
        raise DataError(
            f"{entry.name}: {entry.title} has no label file of its own; use data.labels: reference"
        )
    return PARSERS[entry.parser](Path(raw_dir), entry)
