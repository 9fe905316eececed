"""Decompression-bomb images: refused by the data gate and the scorer's image loader before decoding."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from tests.data.helpers import data_params
from tests.data.test_gate import _bomb_png
from vqr1.data import gate
from vqr1.errors import DataError
from vqr1.inference.images import load_image


@pytest.mark.fault("decompression-bomb PNG (22 kB file, 15000x12000 pixels)")
def test_bomb_png_is_refused_by_the_gate_and_the_scorer(
    scorecard, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused from the header: PIL's decoder (``ImageFile.load``) never runs on either image, which a
    spy on it records (a time bound would say the same only on a machine of known speed)."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bomb_png())
    smaller = tmp_path / "smaller.png"  # under PIL's own limit, over the project's bound
    Image.new("1", (4000, 3000)).save(smaller)
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def recording_load(self: ImageFile.ImageFile) -> object:
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    started = time.perf_counter()
    exists, decodes, _, _, error = gate.inspect_image(bomb, data_params().gate)
    assert (exists, decodes) == (True, False) and error.startswith("decompression bomb"), error
    bounded = gate.inspect_image(smaller, data_params(gate={"max_pixels": 1_000_000}).gate)
    assert bounded[1] is False and "data.gate.max_pixels" in bounded[4]
    with pytest.raises(DataError, match=r"bomb\.png: not a readable image .*decompression bomb"):
        load_image(bomb)
    elapsed = time.perf_counter() - started
    assert decoded == [], f"pixels decoded: {decoded}"
    scorecard.happened = (
        "gate: decodes=False ('decompression bomb'), a 12 MP image over data.gate.max_pixels too; "
        "scorer: DataError; "
        f"no pixels decoded (PIL's load never called), {elapsed * 1000:.0f} ms"
    )
