"""Small fixtures of the nine paper datasets, each in its REAL published layout, and the reference labels.

Every builder writes a few rows in the layout and label format of the real release, as described by the
public source named in its docstring, never by this project's parsers:

- reference label files: github TianheWu/VisualQuality-R1 at a16dcdb6, ``datasets/test_data_label/
  <Set>_test_all.txt`` (``name mos [std]`` or ``ref name mos``) and ``datasets/KADID-10K/
  KADID-10K_<split>_set.txt`` (``I01.png I01_01_01.png mos std``: reference first);
- KADID-10K: IQA-PyTorch ``scripts/process_kadid10k.py`` (``kadid10k/dmos.csv``: dist_img, ref_img, dmos,
  var) and the release's ``kadid10k/images/`` holding distorted and reference PNGs;
- KonIQ-10k: hyperIQA ``folders.py`` (``koniq10k_scores_and_distributions.csv``: image_name, c1..c5,
  c_total, MOS, SD, MOS_zscore; images in ``1024x768/``), two zips at datasets.vqa.mmsp-kn.de;
- SPAQ: IQA-PyTorch ``scripts/process_spaq.py`` (``Annotations/MOS and Image attribute scores.xlsx``) and
  hyperIQA-style loaders (columns Image name, MOS, Brightness, Colorfulness, Contrast, Noisiness,
  Sharpness; ``TestImage/00001.jpg``);
- LIVE Challenge: UNIQUE ``IQA_database/data_clive.m`` and hyperIQA ``folders.py``
  (``ChallengeDB_release/Data/AllImages_release.mat``, ``AllMOS_release.mat``, ``AllStdDev_release.mat``;
  ``Images/``, the seven training images t1-t7 in ``Images/trainingImages/``);
- BID: the real ``DatabaseGrades.xls`` in UNIQUE ``IQA_database/BID/`` (sheets Plan1-3; Plan1 columns
  Image Number, Average Subjective Grade, Number of Grades, Grade #1..#20; numbers with gaps) and
  UNIQUE ``data_BID.m`` (``ImageDatabase/DatabaseImageNNNN.JPG``);
- AGIQA-3K: github lcysyzxdxc/AGIQA-3k-Database (``data.csv`` published apart from ``AGIQA-3K.zip``: CRLF
  lines, prompts with commas quoted; name, prompt, adj1, adj2, style, mos_quality, std_quality,
  mos_align, std_align);
- SRIQA-Bench: AFINE's README and ``basicsr/data/sriqa_dataset.py`` (``MOS/<group>.txt`` lines
  ``name,score``, ``MOS_Reg/``, ``MOS_Gen/``, ``images/<Method>x4/<group>_<Method>x4.png``,
  ``images/Original/``, ``LRImages/<group>_Original.png``) with the group names of AFINE's
  ``normalize_SRIQA_mos.txt`` and the reference label file (online<N>, realworld<N>, srtest<N>);
- Deblurring / dehazing: no public release layout exists; the only public facts are the reference label
  files' image names (``k_0.png k_j.png mos``; ``Scene.png Scene_Method.png mos``), so their archives hold
  just those images.

Values are made up; images are tiny real JPEG/PNG/BMP files.
"""

from __future__ import annotations

import csv
import io
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.io import savemat

SIZE = (32, 24)
SR_METHODS = (
    "SwinIR",
    "RealESRNet",
    "RealESRGAN",
    "BSRGAN",
    "HGGT",
    "StableSR",
    "SUPIR",
    "SeeSR",
    "SinSR",
    "OSEDiff",
)


@dataclass
class Fixture:
    """One dataset's served files and the reference repository's label files for it."""

    name: str
    parts: dict[str, Path]  # catalogue part -> file to serve (a zip, or a plain file)
    reference: dict[str, str] = field(default_factory=dict)  # path under datasets/ -> text
    count: int = 0  # images the labels list


def _image_bytes(seed: int, fmt: str) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(SIZE[1], SIZE[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format=fmt)
    return buf.getvalue()


_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".bmp": "BMP"}


def _image(name: str, seed: int) -> bytes:
    return _image_bytes(seed, _FORMATS[Path(name).suffix.lower()])


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _lines(rows: list[tuple[object, ...]]) -> str:
    return "".join(" ".join(str(v) for v in row) + "\n" for row in rows)


def _scores(n: int, seed: int, lo: float, hi: float) -> list[float]:
    """Distinct scores spanning [lo, hi] (both ends present, as a min-max rescaled file has)."""
    values = np.random.default_rng(seed).permutation(np.linspace(lo, hi, n))
    return [float(v) for v in values]


def kadid10k(out: Path) -> Fixture:
    """5 references x 4 distortions; lists: I01-I03 train, I04 val, I05 test."""
    refs = [f"I{r:02d}" for r in range(1, 6)]
    dists = [f"{ref}_{t:02d}_{lvl:02d}.png" for ref in refs for t, lvl in ((1, 1), (1, 3), (2, 2), (2, 5))]
    dmos = _scores(len(dists), 1, 1.0, 4.93)
    members = {f"kadid10k/images/{ref}.png": _image(f"{ref}.png", i) for i, ref in enumerate(refs)}
    members |= {f"kadid10k/images/{d}": _image(d, 100 + i) for i, d in enumerate(dists)}
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["dist_img", "ref_img", "dmos", "var"])
    writer.writerows([d, f"{d[:3]}.png", f"{m:.2f}", 0.5] for d, m in zip(dists, dmos, strict=True))
    members["kadid10k/dmos.csv"] = table.getvalue().encode()
    split_of = {"I01": "train", "I02": "train", "I03": "train", "I04": "val", "I05": "test"}
    reference = {}
    for split in ("train", "val", "test"):
        rows = [
            (f"{d[:3]}.png", d, 1 + 4 * (m - 1) / 3.93, 0.7)
            for d, m in zip(dists, dmos, strict=True)
            if split_of[d[:3]] == split
        ]
        reference[f"KADID-10K/KADID-10K_{split}_set.txt"] = _lines(rows)
    return Fixture("kadid10k", {"archive": _zip(out / "kadid10k.zip", members)}, reference, len(dists))


def koniq10k(out: Path) -> Fixture:
    ids = [10004473376, 10007357496, 10007903636, 10009096245, 9995874256, 9996001596]
    names = [f"{i}.jpg" for i in ids]
    zscore = _scores(len(ids), 2, 3.91, 88.39)
    images = _zip(out / "koniq10k_1024x768.zip", {f"1024x768/{n}": _image(n, i) for i, n in enumerate(names)})
    header = "image_name,c1,c2,c3,c4,c5,c_total,MOS,SD,MOS_zscore\n"
    body = "".join(
        f"{n},1,2,40,50,7,100,{1 + z / 25:.4f},0.55,{z:.6f}\n" for n, z in zip(names, zscore, strict=True)
    )
    scores = _zip(
        out / "koniq10k_scores_and_distributions.zip",
        {"koniq10k_scores_and_distributions.csv": (header + body).encode()},
    )
    lo, hi = min(zscore), max(zscore)
    rows = [(n, 1 + 4 * (z - lo) / (hi - lo), 0.53) for n, z in zip(names, zscore, strict=True)]
    ref = {"test_data_label/KONIQ-10K_test_all.txt": _lines(rows)}
    return Fixture("koniq10k", {"images": images, "scores": scores}, ref, len(names))


def spaq(out: Path) -> Fixture:
    names = [f"{i:05d}.jpg" for i in range(1, 6)]
    mos = _scores(len(names), 3, 2.0, 94.0)
    sheet = pd.DataFrame(
        {
            "Image name": names,
            "MOS": mos,
            "Brightness": 50.0,
            "Colorfulness": 40.0,
            "Contrast": 45.0,
            "Noisiness": 60.0,
            "Sharpness": 55.0,
        }
    )
    xlsx = io.BytesIO()
    sheet.to_excel(xlsx, index=False)
    members = {"SPAQ/Annotations/MOS and Image attribute scores.xlsx": xlsx.getvalue()}
    members |= {f"SPAQ/TestImage/{n}": _image(n, 200 + i) for i, n in enumerate(names)}
    lo, hi = min(mos), max(mos)
    rows = [(n, 1 + 4 * (m - lo) / (hi - lo), 17.5) for n, m in zip(names, mos, strict=True)]
    ref = {"test_data_label/SPAQ_test_all.txt": _lines(rows)}
    return Fixture("spaq", {"archive": _zip(out / "SPAQ.zip", members)}, ref, len(names))


def live_challenge(out: Path) -> Fixture:
    names = ["t1.bmp", "t2.bmp", "10.bmp", "11.bmp", "1164.bmp"]
    mos = _scores(len(names), 4, 3.42, 92.43)
    cells = np.empty((len(names), 1), dtype=object)
    cells[:, 0] = names
    data = {}
    for key, value in {
        "AllImages_release": cells,
        "AllMOS_release": np.array([mos]),
        "AllStdDev_release": np.full((1, len(names)), 18.0),
    }.items():
        buf = io.BytesIO()
        savemat(buf, {key: value})
        data[f"ChallengeDB_release/Data/{key}.mat"] = buf.getvalue()
    for i, n in enumerate(names):
        folder = "Images/trainingImages" if n.startswith("t") else "Images"
        data[f"ChallengeDB_release/{folder}/{n}"] = _image(n, 300 + i)
    lo, hi = min(mos), max(mos)
    rows = [(n, 100 * (m - lo) / (hi - lo), 18.4) for n, m in zip(names, mos, strict=True)]
    ref = {"test_data_label/LIVEC_test_all.txt": _lines(rows)}
    return Fixture(
        "live_challenge", {"archive": _zip(out / "ChallengeDB_release.zip", data)}, ref, len(names)
    )


def bid(out: Path) -> Fixture:
    import xlwt

    numbers = [1, 3, 4, 190, 590]
    grades = _scores(len(numbers), 5, 0.16, 4.92)
    book = xlwt.Workbook()
    plan1 = book.add_sheet("Plan1")
    head = ["Image Number", "Average Subjective Grade", "Number of Grades"] + [
        f"Grade #{i}" for i in range(1, 21)
    ]
    for col, title in enumerate(head):
        plan1.write(0, col, title)
    for row, (num, grade) in enumerate(zip(numbers, grades, strict=True), start=1):
        for col, value in enumerate([num, grade, 10] + [grade] * 10):
            plan1.write(row, col, value)
    book.add_sheet("Plan2")
    book.add_sheet("Plan3")
    xls = io.BytesIO()
    book.save(xls)
    names = [f"DatabaseImage{n:04d}.JPG" for n in numbers]
    members = {"ImageDatabase/DatabaseGrades.xls": xls.getvalue()}
    members |= {f"ImageDatabase/{n}": _image(n, 400 + i) for i, n in enumerate(names)}
    lo, hi = min(grades), max(grades)
    rows = [(n, 100 * (g - lo) / (hi - lo)) for n, g in zip(names, grades, strict=True)]
    ref = {"test_data_label/BID_test_all.txt": _lines(rows)}
    return Fixture("bid", {"archive": _zip(out / "ImageDatabase.zip", members)}, ref, len(names))


def agiqa3k(out: Path) -> Fixture:
    names = [
        "AttnGAN_normal_000.jpg",
        "DALLE2_normal_001.jpg",
        "midjourney_lowstep_002.jpg",
        "xl2.2_normal_299.jpg",
    ]
    prompts = [
        "statue of a man",
        "artwork with only triangles, anime style",
        "a tray of sushi",
        "a cat, sci-fi style",
    ]
    mos = _scores(len(names), 6, 0.195, 4.45)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\r\n")  # CRLF; only prompts holding a comma are quoted
    writer.writerow(
        ["name", "prompt", "adj1", "adj2", "style", "mos_quality", "std_quality", "mos_align", "std_align"]
    )
    for n, p, m in zip(names, prompts, mos, strict=True):
        writer.writerow([n, p, "", "", p.rpartition(", ")[2] if ", " in p else "", f"{m:.9f}", 0.2, 1.0, 0.3])
    (out / "agiqa").mkdir(parents=True, exist_ok=True)
    csv_path = out / "agiqa" / "data.csv"
    csv_path.write_bytes(table.getvalue().encode())
    images = _zip(out / "AGIQA-3K.zip", {f"AGIQA-3K/{n}": _image(n, 500 + i) for i, n in enumerate(names)})
    lo, hi = min(mos), max(mos)
    rows = [(n, 100 * (m - lo) / (hi - lo), 0.22) for n, m in zip(names, mos, strict=True)]
    ref = {"test_data_label/AGIQA-3K_test_all.txt": _lines(rows)}
    return Fixture("agiqa3k", {"images": images, "labels": csv_path}, ref, len(names))


def sriqa_bench(out: Path) -> Fixture:
    """Two groups of 11 (the original + 10 SR methods), scores min-max scaled to 0-100 within each."""
    groups = ["online15", "srtest58"]
    members: dict[str, bytes] = {}
    rows = []
    for g, group in enumerate(groups):
        names = [f"{group}_Original.png"] + [f"{group}_{m}x4.png" for m in SR_METHODS]
        raw = np.random.default_rng(10 + g).normal(size=len(names))
        scaled = [float(v) for v in 100 * (raw - raw.min()) / (raw.max() - raw.min())]
        order = sorted(range(len(names)), key=lambda i: -scaled[i])
        scaled[order[0]] = 100.00000000000001  # as the real files read for some group maxima
        text = "".join(f"{names[i]},{scaled[i]!r}\n" for i in order)
        members[f"SRIQA-Bench/MOS/{group}.txt"] = text.encode()
        reg = [i for i in order if names[i].split("_")[1] in ("SwinIRx4.png", "RealESRNetx4.png")]
        members[f"SRIQA-Bench/MOS_Reg/{group}.txt"] = "".join(
            f"{names[i]},{scaled[i]!r}\n" for i in reg
        ).encode()
        gen = [i for i in order if i not in reg and i != 0]
        members[f"SRIQA-Bench/MOS_Gen/{group}.txt"] = "".join(
            f"{names[i]},{scaled[i]!r}\n" for i in gen
        ).encode()
        for i, name in enumerate(names):
            method = name[len(group) + 1 : -len(".png")]
            members[f"SRIQA-Bench/images/{method}/{name}"] = _image(name, 600 + 20 * g + i)
        members[f"SRIQA-Bench/LRImages/{group}_Original.png"] = _image(f"{group}_Original.png", 700 + g)
        rows += [(f"{group}_Original.png", names[i], scaled[i]) for i in order]
    ref = {"test_data_label/SRIQA-Bench_test_all.txt": "".join(f"{r} {n} {s!r}\n" for r, n, s in rows)}
    return Fixture("sriqa_bench", {"archive": _zip(out / "SRIQA-Bench.zip", members)}, ref, len(rows))


def deblurring(out: Path) -> Fixture:
    """Groups k with results k_1..k_3 (the real file: 40 groups x 30, one missing)."""
    names = [f"{k}_{j}.png" for k in (0, 9) for j in (1, 2, 10)][:-1]
    mos = _scores(len(names), 7, 1.0, 5.0)
    members = {f"deblur/{n}": _image(n, 800 + i) for i, n in enumerate(names)}
    rows = [(f"{n.split('_')[0]}_0.png", n, m) for n, m in zip(names, mos, strict=True)]
    ref = {"test_data_label/Deblur_test_all.txt": _lines(rows)}
    return Fixture("deblurring", {"images": _zip(out / "deblurring.zip", members)}, ref, len(names))


def dehazing(out: Path) -> Fixture:
    scenes, methods = ("Adirondack", "viaduct"), ("Berman16", "Cai16", "He09")
    names = [f"{s}_{m}.png" for s in scenes for m in methods]
    mos = _scores(len(names), 8, 1.0, 5.0)
    members = {f"dehaze/{n}": _image(n, 900 + i) for i, n in enumerate(names)}
    rows = [(f"{n.split('_')[0]}.png", n, m) for n, m in zip(names, mos, strict=True)]
    ref = {"test_data_label/dehaze_test_all.txt": _lines(rows)}
    return Fixture("dehazing", {"images": _zip(out / "dehazing.zip", members)}, ref, len(names))


BUILDERS: dict[str, Callable[[Path], Fixture]] = {
    f.__name__: f
    for f in (kadid10k, koniq10k, spaq, live_challenge, bid, agiqa3k, sriqa_bench, deblurring, dehazing)
}


@dataclass
class Layouts:
    """All nine fixtures under ``root/<set>/`` and the reference label files under ``reference_dir``."""

    root: Path
    fixtures: dict[str, Fixture]

    @property
    def reference_dir(self) -> Path:
        return self.root / "reference" / "datasets"

    def __getitem__(self, name: str) -> Fixture:
        return self.fixtures[name]


def build_all(out: Path) -> Layouts:
    """Build every fixture and write the reference repository's label files beside them."""
    layouts = Layouts(out, {name: build(out / name) for name, build in BUILDERS.items()})
    for fixture in layouts.fixtures.values():
        for rel, text in fixture.reference.items():
            path = layouts.reference_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    return layouts


def extracted(fixture: Fixture, dest: Path) -> Path:
    """The fixture's pieces as the download stage lays them out in data/raw/<set>/."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in fixture.parts.values():
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                zf.extractall(dest)
        else:
            (dest / path.name).write_bytes(path.read_bytes())
    return dest


# The IQA-PyTorch mirror (Hugging Face dataset repository chaofengc/IQA-PyTorch-Datasets) as its public
# description gives it, github chaofengc/IQA-PyTorch at 01ae427f: pyiqa/data/dataset_api.py names each
# set's file (dataset_download_name: kadid10k.tgz, koniq10k.tgz, spaq.tgz, live_challenge.tgz) and
# pyiqa/default_dataset_configs.yml the folders inside (dataroot_target): kadid10k/images,
# koniq10k/512x384 and koniq10k/1024x768 (the same file names at both resolutions), SPAQ/TestImage and
# LIVEC/ (the ChallengeDB release's Data/ and Images/, as scripts/process_livechallenge.py reads them).
# Labels live in a separate meta-info repository, so the archives here hold images (and LIVEC's .mat).
MIRROR_FOLDERS = {  # set -> (mirror file, {authors' folder prefix: mirror folder prefix})
    "kadid10k": ("kadid10k.tgz", {"kadid10k/images/": "kadid10k/images/"}),
    "koniq10k": ("koniq10k.tgz", {"1024x768/": "koniq10k/1024x768/"}),
    "spaq": ("spaq.tgz", {"SPAQ/TestImage/": "SPAQ/TestImage/"}),
    "live_challenge": ("live_challenge.tgz", {"ChallengeDB_release/": "LIVEC/"}),
}


def _small_copy(data: bytes) -> bytes:
    """The 512x384 copy of an image: the same picture at half the size (different bytes)."""
    image = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    image.resize((image.width // 2, image.height // 2)).save(buf, format=image.format)
    return buf.getvalue()


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def mirror_archive(
    fixture: Fixture, out: Path, resolutions: tuple[str, ...] = ("1024x768", "512x384")
) -> Path:
    """The set's archive in the mirror's layout, repacked from the authors' fixture (same image bytes);
    KonIQ's gets a 512x384 copy of every image beside the 1024x768 one, under the same names, for each
    resolution in ``resolutions``."""
    filename, moves = MIRROR_FOLDERS[fixture.name]
    members: dict[str, bytes] = {}
    for source in fixture.parts.values():
        if not zipfile.is_zipfile(source):
            continue
        with zipfile.ZipFile(source) as zf:
            for name in zf.namelist():
                for old, new in moves.items():
                    if name.startswith(old) and not name.endswith("/"):
                        members[new + name[len(old) :]] = zf.read(name)
    if fixture.name == "koniq10k":
        big = {k: v for k, v in members.items() if k.startswith("koniq10k/1024x768/")}
        members = {k: v for k, v in big.items() if "1024x768" in resolutions}
        if "512x384" in resolutions:
            members |= {k.replace("1024x768", "512x384"): _small_copy(v) for k, v in big.items()}
    return _tgz(out / filename, members)
