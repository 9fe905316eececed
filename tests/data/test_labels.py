"""Each label parser on a tiny fixture written here in the dataset's real format (no downloads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import savemat

from vqr1.data import catalogue, labels
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


def test_koniq_finds_images_in_any_folder(tmp_path: Path) -> None:
    cols = labels.KONIQ_COLUMNS
    rows = [["1.jpg", 0, 1, 2, 3, 4, 10, 3.5, 0.5, 62.1], ["2.jpg", 1, 1, 1, 1, 1, 5, 2.0, 0.4, 30.0]]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "koniq10k_scores_and_distributions.csv", index=False)
    _touch(tmp_path, "koniq10k_1024x768/1024x768/1.jpg", "koniq10k_1024x768/1024x768/2.jpg")
    frame = _parse("koniq10k", tmp_path)
    assert frame["image"].tolist() == ["koniq10k_1024x768/1024x768/1.jpg", "koniq10k_1024x768/1024x768/2.jpg"]
    assert frame["mos_raw"].tolist() == [3.5, 2.0] and frame["ref_id"].isna().all()


def test_spaq_xlsx(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"Image name": ["00001.jpg", "00002.jpg"], "MOS": [42.5, 80.0], "Brightness": [1, 2]}
    )
    frame.to_excel(tmp_path / "MOS and Image attribute scores.xlsx", index=False)
    _touch(tmp_path, "TestImage/00001.jpg", "TestImage/00002.jpg")
    out = _parse("spaq", tmp_path)
    assert out["image"].tolist() == ["TestImage/00001.jpg", "TestImage/00002.jpg"]
    assert out["mos_raw"].tolist() == [42.5, 80.0]


def test_clive_mat(tmp_path: Path) -> None:
    names = np.empty((3, 1), dtype=object)
    names[:, 0] = ["t1.bmp", "10.bmp", "11.bmp"]
    (tmp_path / "Data").mkdir()
    savemat(tmp_path / "Data/AllImages_release.mat", {"AllImages_release": names})
    savemat(tmp_path / "Data/AllMOS_release.mat", {"AllMOS_release": np.array([[55.1, 20.5, 90.0]])})
    _touch(tmp_path, "Images/trainingImages/t1.bmp", "Images/10.bmp", "Images/11.bmp")
    out = _parse("live_challenge", tmp_path)
    assert out["image"].tolist() == ["Images/trainingImages/t1.bmp", "Images/10.bmp", "Images/11.bmp"]
    assert out["mos_raw"].tolist() == pytest.approx([55.1, 20.5, 90.0])


def test_bid_xls(tmp_path: Path) -> None:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    for col, head in enumerate(["Image Number", "Average Subjective Grade"]):
        sheet.write(0, col, head)
    for row, (num, grade) in enumerate([(1, 3.2), (2, 0.5)], start=1):
        sheet.write(row, 0, num)
        sheet.write(row, 1, grade)
    book.save(str(tmp_path / "DatabaseGrades.xls"))
    _touch(tmp_path, "ImageDatabase/DatabaseImage0001.JPG", "ImageDatabase/DatabaseImage0002.JPG")
    out = _parse("bid", tmp_path)
    assert out["image"].tolist() == [
        "ImageDatabase/DatabaseImage0001.JPG",
        "ImageDatabase/DatabaseImage0002.JPG",
    ]
    assert out["mos_raw"].tolist() == [3.2, 0.5]


def test_agiqa_csv(tmp_path: Path) -> None:
    cols = ["name", "prompt", "adj1", "adj2", "style", "mos_quality", "std_quality", "mos_align", "std_align"]
    rows = [
        ["a.png", "a cat", "", "", "", 2.5, 0.3, 3.0, 0.2],
        ["b.jpg", "a dog", "", "", "", 0.7, 0.2, 1.0, 0.1],
    ]
    pd.DataFrame(rows, columns=cols).to_csv(tmp_path / "data.csv", index=False)
    _touch(tmp_path, "AGIQA-3K/a.png", "AGIQA-3K/b.jpg")
    out = _parse("agiqa3k", tmp_path)
    assert out["image"].tolist() == ["AGIQA-3K/a.png", "AGIQA-3K/b.jpg"] and out["mos_raw"].tolist() == [
        2.5,
        0.7,
    ]


def test_sriqa_groups(tmp_path: Path) -> None:
    (tmp_path / "MOS").mkdir()
    (tmp_path / "MOS/x2.txt").write_text("img1.png 71.5\nimg2.png 20\n")
    (tmp_path / "MOS/x4.txt").write_text("img1.png 40.25\n")
    _touch(tmp_path, "x2/img1.png", "x2/img2.png", "x4/img1.png")
    out = _parse("sriqa_bench", tmp_path)
    assert out["image"].tolist() == ["x2/img1.png", "x2/img2.png", "x4/img1.png"]
    assert out["mos_raw"].tolist() == [71.5, 20.0, 40.25]


@pytest.mark.parametrize("name", ["deblurring", "dehazing"])
def test_ref_dist_mos(tmp_path: Path, name: str) -> None:
    (tmp_path / "mos.txt").write_text(
        "ref dist mos\nblur01.png blur01_m1.png 3.5\nblur01.png blur01_m2.png 1.25\n"
    )
    _touch(tmp_path, "blur01_m1.png", "blur01_m2.png")
    out = _parse(name, tmp_path)
    assert out["image"].tolist() == ["blur01_m1.png", "blur01_m2.png"]
    assert out["ref_id"].tolist() == ["blur01", "blur01"] and out["mos_raw"].tolist() == [3.5, 1.25]


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
    frame = pd.DataFrame(
        {
            "image": ["1600", "1600"],
            "dst_idx": [1, 2],
            "dst_type": ["noise", "jpeg 2000"],
            "dst_lev": [1, 3],
            "dmos_std": [0.1, 0.1],
            "dmos": [0.06, 0.51],
        }
    )
    frame.to_excel(tmp_path / "csiq.DMOS.xlsx", sheet_name="all_by_image", index=False)
    _touch(tmp_path, "dst_imgs/awgn/1600.AWGN.1.png", "dst_imgs/jpeg2000/1600.jpeg2000.3.png")
    out = _parse("csiq", tmp_path)
    assert out["image"].tolist() == ["dst_imgs/awgn/1600.AWGN.1.png", "dst_imgs/jpeg2000/1600.jpeg2000.3.png"]
    assert out["ref_id"].tolist() == ["1600", "1600"]


def test_every_catalogue_parser_exists() -> None:
    assert {d.parser for d in catalogue.DATASETS.values()} <= set(labels.PARSERS)


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
    (tmp_path / "mos.txt").write_text("a.png a1.png 3.0\na.png a2.png\n")
    with pytest.raises(DataError, match=r"deblurring: .*mos\.txt:2: expected 3 fields, got 2"):
        labels.parse(tmp_path, catalogue.get("deblurring"))


def test_missing_label_file_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"kadid10k: label file 'dmos\.csv' not found"):
        labels.parse(tmp_path, catalogue.get("kadid10k"))
    with pytest.raises(DataError, match="run the download stage first"):
        labels.parse(tmp_path / "nope", catalogue.get("kadid10k"))


def test_non_numeric_mos_becomes_nan_for_the_gate(tmp_path: Path) -> None:
    (tmp_path / "dmos.csv").write_text("dist_img,ref_img,dmos,var\nI01_01_01.png,I01.png,oops,0.3\n")
    assert labels.parse(tmp_path, catalogue.get("kadid10k"))["mos_raw"].isna().all()
