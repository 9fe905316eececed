"""Each label parser on tiny fixtures in the datasets' real layouts (tests/data/real_layouts.py cites them)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat
from scipy.stats import spearmanr

from tests.data import real_layouts
from tests.data.helpers import data_params
from vqr1.data import catalogue, labels, reference
from vqr1.errors import DataError


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"img")


def _parse(name: str, root: Path) -> pd.DataFrame:
    frame = labels.parse(root, catalogue.get(name))
    assert list(frame.columns) == labels.COLUMNS
    return frame


def test_kadid(synth_root: Path) -> None:
    frame = _parse("kadid10k", synth_root)
    raw = pd.read_csv(synth_root / "kadid10k/dmos.csv")
    assert frame["image"].tolist() == [f"kadid10k/images/{n}" for n in raw["dist_img"]]
    assert frame["ref_id"].iloc[0] == "I01" and frame["mos_raw"].tolist() == raw["dmos"].tolist()


@pytest.fixture(scope="module")
def layouts(tmp_path_factory: pytest.TempPathFactory) -> real_layouts.Layouts:
    """Every paper set in its real layout (sources cited in tests/data/real_layouts.py)."""
    return real_layouts.build_all(tmp_path_factory.mktemp("layouts"))


NATIVE = ["kadid10k", "koniq10k", "spaq", "live_challenge", "bid", "agiqa3k", "sriqa_bench"]


@pytest.mark.parametrize("name", NATIVE)
def test_native_labels_of_the_real_layouts(name: str, layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    """Each release's own label file lists every image, found where the release keeps it, on its scale."""
    entry = catalogue.get(name)
    raw = real_layouts.extracted(layouts[name], tmp_path / "raw")
    frame = _parse(name, raw)
    assert len(frame) == layouts[name].count and frame["image"].is_unique
    assert all((raw / p).is_file() for p in frame["image"])
    lo, hi = entry.mos_range
    assert frame["mos_raw"].between(lo, hi + 1e-9).all() and frame["mos_raw"].nunique() > len(frame) // 2


@pytest.mark.parametrize("name", NATIVE)
def test_reference_labels_name_the_same_images_in_the_same_order(
    name: str, layouts: real_layouts.Layouts, tmp_path: Path
) -> None:
    """The paper's files (a rescale of each set's own scores) resolve to the same files and rank them alike."""
    raw = real_layouts.extracted(layouts[name], tmp_path / "raw")
    entry = catalogue.get(name)
    data = data_params(reference_labels={"dir": str(layouts.reference_dir)})
    table = reference.table(tmp_path, entry, data, progress=False)
    ref = labels.parse(raw, entry, table).set_index("image")["mos_raw"]
    own = _parse(name, raw).set_index("image")["mos_raw"]
    assert sorted(ref.index) == sorted(own.index)
    assert spearmanr(ref[own.index], own).statistic == pytest.approx(1.0)


def test_koniq_native_labels_are_mos_zscore(layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    """hyperIQA's Koniq_10kFolder reads MOS_zscore: the scale the paper's KonIQ labels rescale."""
    raw = real_layouts.extracted(layouts["koniq10k"], tmp_path)
    csv = pd.read_csv(raw / "koniq10k_scores_and_distributions.csv")
    frame = _parse("koniq10k", raw)
    assert frame["mos_raw"].tolist() == csv["MOS_zscore"].tolist()
    assert frame["image"].str.startswith("1024x768/").all()


def test_bid_reads_plan1_of_the_real_workbook(layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    """DatabaseGrades.xls: Plan1 holds the grades (Plan2/3 are empty); numbers have gaps (1, 3, ...)."""
    frame = _parse("bid", real_layouts.extracted(layouts["bid"], tmp_path))
    assert frame["image"].tolist()[:2] == [
        "ImageDatabase/DatabaseImage0001.JPG",
        "ImageDatabase/DatabaseImage0003.JPG",
    ]


def test_clive_keeps_the_training_images(layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    frame = _parse("live_challenge", real_layouts.extracted(layouts["live_challenge"], tmp_path))
    assert frame["image"].iloc[0] == "ChallengeDB_release/Images/trainingImages/t1.bmp"
    assert frame["image"].iloc[2] == "ChallengeDB_release/Images/10.bmp"


def test_agiqa_csv_with_crlf_and_quoted_commas(layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    raw = real_layouts.extracted(layouts["agiqa3k"], tmp_path)
    assert (
        b"\r\n" in (raw / "data.csv").read_bytes()
        and b'"artwork with only triangles, anime style"' in (raw / "data.csv").read_bytes()
    )
    frame = _parse("agiqa3k", raw)
    assert frame["image"].tolist()[1] == "AGIQA-3K/DALLE2_normal_001.jpg"
    assert frame["mos_raw"].min() == pytest.approx(0.195) and frame["mos_raw"].max() == pytest.approx(4.45)


def test_sriqa_real_layout(layouts: real_layouts.Layouts, tmp_path: Path) -> None:
    """AFINE's layout: MOS/<group>.txt `name,score`; images/<Method>x4/; LRImages/ repeats the originals."""
    raw = real_layouts.extracted(layouts["sriqa_bench"], tmp_path)
    frame = _parse("sriqa_bench", raw)
    assert len(frame) == 22 and not frame["image"].str.contains("LRImages|MOS_").any()
    originals = frame[frame["image"].str.endswith("_Original.png")]
    assert originals["image"].tolist() == [
        "SRIQA-Bench/images/Original/online15_Original.png",
        "SRIQA-Bench/images/Original/srtest58_Original.png",
    ]
    assert "SRIQA-Bench/images/SeeSRx4/online15_SeeSRx4.png" in set(frame["image"])
    assert frame.groupby("ref_id").size().to_dict() == {"online15_Original": 11, "srtest58_Original": 11}
    assert frame["mos_raw"].max() == 100.00000000000001 and frame["mos_raw"].min() == 0.0


def test_sriqa_groups_need_the_mos_folder(tmp_path: Path) -> None:
    (tmp_path / "MOS_Gen").mkdir()
    (tmp_path / "MOS_Gen/online1.txt").write_text("online1_SeeSRx4.png,40.0\n")
    with pytest.raises(DataError, match=r"sriqa_bench: no MOS/<group>\.txt"):
        labels.parse(tmp_path, catalogue.get("sriqa_bench"))
    (tmp_path / "MOS").mkdir()
    (tmp_path / "MOS/online1.txt").write_text("online1_SeeSRx4.png,40.0,extra\n")
    with pytest.raises(DataError, match=r"sriqa_bench: .*online1\.txt:1: expected `name,score`"):
        labels.parse(tmp_path, catalogue.get("sriqa_bench"))


@pytest.mark.parametrize("name", ["deblurring", "dehazing"])
def test_sets_without_labels_of_their_own(name: str, tmp_path: Path) -> None:
    """No public release layout: their only labels are the reference repository's files."""
    with pytest.raises(DataError, match=rf"{name}: .* no label file of its own; use data.labels: reference"):
        labels.parse(tmp_path, catalogue.get(name))
    assert catalogue.uses_reference(catalogue.get(name), "native")


def test_tid2013(tmp_path: Path) -> None:
    (tmp_path / "mos_with_names.txt").write_text("5.51429 i01_01_1.bmp\n4.28571 i02_01_2.bmp\n")
    _touch(tmp_path, "distorted_images/i01_01_1.bmp", "distorted_images/i02_01_2.bmp")
    out = _parse("tid2013", tmp_path)
    assert out["ref_id"].tolist() == ["I01", "I02"] and out["mos_raw"].tolist() == [5.51429, 4.28571]


def test_live_drops_references(tmp_path: Path) -> None:
    n = sum(k for _, k in labels.LIVE_FOLDERS)
    dmos = np.linspace(0, 90, n)
    orgs = np.zeros(n)
    orgs[0] = 1  # jp2k/img1.bmp is a reference copy
    refs = np.empty((1, n), dtype=object)
    refs[0, :] = [f"ref{i % 29}.bmp" for i in range(n)]
    savemat(tmp_path / "dmos.mat", {"dmos": dmos[None, :], "orgs": orgs[None, :]})
    savemat(tmp_path / "refnames_all.mat", {"refnames_all": refs})
    out = _parse("live", tmp_path)
    assert len(out) == n - 1 and out["image"].iloc[0] == "jp2k/img2.bmp"
    assert out["image"].iloc[-1] == "fastfading/img174.bmp" and out["ref_id"].iloc[0] == "ref1"
    assert out["mos_raw"].iloc[0] == pytest.approx(dmos[1])


def test_csiq_xlsx(tmp_path: Path) -> None:
    """The DMOS workbook as UNIQUE ships it (IQA_database/CSIQ/): several sheets; all_by_image has its header
    on row 4 from column D; file names from UNIQUE data_csiq.m (<image>.<TAG>.<level>.png)."""
    frame = pd.DataFrame(
        {
            "image": [1600, "woman", 1600],
            "dst_idx": [1, 4, 3],
            "dst_type": ["noise", "fnoise", "jpeg 2000"],
            "dst_lev": [1, 2, 3],
            "dmos_std": [0.061, 0.09, 0.1],
            "dmos": [0.062, 0.17, 0.51],
        }
    )
    with pd.ExcelWriter(tmp_path / "csiq.DMOS.xlsx") as book:
        pd.DataFrame({"z": [1.0, 2.0]}).to_excel(book, sheet_name="z_crit", index=False)
        frame.to_excel(book, sheet_name="all_by_image", index=False, startrow=3, startcol=3)
    names = [
        "dst_imgs/awgn/1600.AWGN.1.png",
        "dst_imgs/fnoise/woman.fnoise.2.png",
        "dst_imgs/jpeg2000/1600.jpeg2000.3.png",
    ]
    _touch(tmp_path, *names)
    out = _parse("csiq", tmp_path)
    assert out["image"].tolist() == names
    assert out["ref_id"].tolist() == ["1600", "woman", "1600"] and out["mos_raw"].tolist() == [
        0.062,
        0.17,
        0.51,
    ]


def test_every_catalogue_parser_exists() -> None:
    assert {d.parser for d in catalogue.DATASETS.values()} - {None} <= set(labels.PARSERS)
    assert all(d.reference for d in catalogue.DATASETS.values() if d.parser is None)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("dist_img,ref_img,dmos", r"missing \['var'\]"),
        ("dist_img,ref_img,dmos,var,extra", r"extra \['extra'\]"),
    ],
)
def test_missing_or_extra_columns(tmp_path: Path, header: str, problem: str) -> None:
    (tmp_path / "dmos.csv").write_text(
        header
        + "\n"
        + ",".join(["I01_01_01.png", "I01.png", "4.1", "0.3", "x"][: header.count(",") + 1])
        + "\n"
    )
    with pytest.raises(DataError, match=rf"kadid10k: .*dmos\.csv: label columns .*{problem}"):
        labels.parse(tmp_path, catalogue.get("kadid10k"))


def test_malformed_text_line_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "mos_with_names.txt").write_text("5.5 i01_01_1.bmp\n4.2\n")
    with pytest.raises(DataError, match=r"tid2013: .*mos_with_names\.txt:2: expected 2 fields, got 1"):
        labels.parse(tmp_path, catalogue.get("tid2013"))


def test_missing_label_file_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"kadid10k: label file 'dmos\.csv' not found"):
        labels.parse(tmp_path, catalogue.get("kadid10k"))
    with pytest.raises(DataError, match="run the download stage first"):
        labels.parse(tmp_path / "nope", catalogue.get("kadid10k"))


def test_non_numeric_mos_becomes_nan_for_the_gate(tmp_path: Path) -> None:
    (tmp_path / "dmos.csv").write_text("dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,oops,0.3\n")
    assert labels.parse(tmp_path, catalogue.get("kadid10k"))["mos_raw"].isna().all()
