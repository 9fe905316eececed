"""A synthetic dataset in exactly the KADID-10K layout, built offline from bundled photographs.

Why: tests, the demo and benchmarks need real images with a *known* quality order and the real
label format, without a 3 GB download. References come from scikit-image's bundled photos and
matplotlib's Grace Hopper; KADID-style distortions are applied at 5 levels.

MOS model (documented, monotone): for distortion type t with sensitivity s_t in [0.55, 1.0],
reference r with content offset c_r ~ U(-0.1, 0.1) and level l in 1..5::

    mos = clip(4.6 + c_r - 0.8 * s_t * (l - 1) + u, 1, 5),   u ~ U(-0.1, 0.1)

Within one (reference, type) the gap between consecutive levels is 0.8 * s_t >= 0.44 and the
noise spans at most 0.2, so MOS strictly decreases with level.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter
from scipy import ndimage

from vqr1.fsutil import atomic_dir, atomic_path

WIDTH, HEIGHT = 512, 384
LEVELS = 5
LABEL_COLUMNS = ["dist_img", "ref_img", "dmos", "var"]

Distortion = Callable[[Image.Image, int, np.random.Generator], Image.Image]


def _clip_u8(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32)


def _gaussian_blur(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur([0.6, 1.2, 2.2, 4.0, 7.0][level - 1]))


def _lens_blur(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return img.filter(ImageFilter.BoxBlur([1, 2, 3, 5, 8][level - 1]))


def _motion_blur(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    size = [3, 7, 13, 21, 31][level - 1]
    return _clip_u8(ndimage.uniform_filter1d(_arr(img), size=size, axis=1))


def _color_diffusion(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    y, cb, cr = img.convert("YCbCr").split()
    radius = [1, 3, 6, 10, 16][level - 1]
    blurred = [ch.filter(ImageFilter.GaussianBlur(radius)) for ch in (cb, cr)]
    return Image.merge("YCbCr", (y, *blurred)).convert("RGB")


def _color_shift(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    a = _arr(img)
    a[..., 1] = np.roll(a[..., 1], [2, 5, 10, 18, 30][level - 1], axis=1)
    return _clip_u8(a)


def _color_quantization(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return img.quantize(colors=[64, 32, 16, 8, 4][level - 1], dither=Image.Dither.NONE).convert("RGB")


def _desaturate(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Color(img).enhance([0.75, 0.55, 0.35, 0.15, 0.0][level - 1])


def _oversaturate(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Color(img).enhance([1.6, 2.2, 3.0, 4.0, 6.0][level - 1])


def _resample_blocking(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    # Stand-in for JPEG2000 ringing/blur: downsample then bicubic upsample.
    f = [1.5, 2.0, 3.0, 4.5, 6.5][level - 1]
    small = img.resize((max(1, int(img.width / f)), max(1, int(img.height / f))), Image.Resampling.BILINEAR)
    return small.resize(img.size, Image.Resampling.BICUBIC)


def _jpeg(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=[43, 20, 10, 5, 2][level - 1])
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _white_noise(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    sigma = [6, 12, 22, 36, 56][level - 1]
    return _clip_u8(_arr(img) + rng.normal(0, sigma, size=(img.height, img.width, 3)))


def _chroma_noise(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    a = _arr(img.convert("YCbCr"))
    sigma = [6, 12, 22, 36, 56][level - 1]
    a[..., 1:] += rng.normal(0, sigma, size=(img.height, img.width, 2))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), mode="YCbCr").convert("RGB")


def _impulse_noise(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    a = _arr(img)
    mask = rng.random((img.height, img.width)) < [0.01, 0.03, 0.06, 0.11, 0.2][level - 1]
    a[mask] = rng.choice([0.0, 255.0], size=(int(mask.sum()), 1))
    return _clip_u8(a)


def _multiplicative_noise(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    sigma = [0.06, 0.12, 0.22, 0.35, 0.5][level - 1]
    return _clip_u8(_arr(img) * (1 + rng.normal(0, sigma, size=(img.height, img.width, 1))))


def _denoise(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    noisy = _white_noise(img, level, rng)
    return noisy.filter(ImageFilter.MedianFilter([3, 3, 5, 5, 7][level - 1]))


def _gamma(img: Image.Image, gamma: float) -> Image.Image:
    return _clip_u8(255.0 * (_arr(img) / 255.0) ** gamma)


def _brighten(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return _gamma(img, [0.8, 0.62, 0.47, 0.34, 0.22][level - 1])


def _darken(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return _gamma(img, [1.3, 1.7, 2.3, 3.1, 4.2][level - 1])


def _mean_shift(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return _clip_u8(_arr(img) + [18, 36, 58, 82, 110][level - 1])


def _jitter(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(img)
    amp = [1, 2, 3, 5, 8][level - 1]
    ys, xs = np.indices(a.shape[:2])
    ys = np.clip(ys + rng.integers(-amp, amp + 1, size=ys.shape), 0, a.shape[0] - 1)
    xs = np.clip(xs + rng.integers(-amp, amp + 1, size=xs.shape), 0, a.shape[1] - 1)
    return Image.fromarray(a[ys, xs])


def _patch_swap(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(img).copy()
    size = max(4, img.width // 32)
    for _ in range([8, 25, 60, 110, 180][level - 1]):
        y0, y1 = rng.integers(0, img.height - size, size=2)
        x0, x1 = rng.integers(0, img.width - size, size=2)
        a[y0 : y0 + size, x0 : x0 + size] = a[y1 : y1 + size, x1 : x1 + size]
    return Image.fromarray(a)


def _pixelate(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    block = [2, 4, 7, 11, 16][level - 1]
    small = img.resize((max(1, img.width // block), max(1, img.height // block)), Image.Resampling.BOX)
    return small.resize(img.size, Image.Resampling.NEAREST)


def _quantize(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    step = 256 / [24, 12, 7, 4, 2][level - 1]
    return _clip_u8(np.floor(_arr(img) / step) * step + step / 2)


def _color_block(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(img).copy()
    size = max(4, img.width // 16)
    for _ in range([2, 5, 10, 20, 40][level - 1]):
        y = rng.integers(0, img.height - size)
        x = rng.integers(0, img.width - size)
        a[y : y + size, x : x + size] = rng.integers(0, 256, size=3)
    return Image.fromarray(a)


def _sharpen(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return img.filter(
        ImageFilter.UnsharpMask(radius=2, percent=[150, 300, 500, 800, 1200][level - 1], threshold=0)
    )


def _contrast(img: Image.Image, level: int, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Contrast(img).enhance([0.75, 0.55, 0.4, 0.27, 0.15][level - 1])


@dataclass(frozen=True)
class DistortionType:
    kadid_id: int
    name: str
    apply: Distortion
    sensitivity: float


# KADID-10K's 25 types, by their KADID number. The first eight in ORDER are the most common kinds of damage
# (blur, motion blur, noise, JPEG, contrast, saturation, brightness, pixelation): the small default set
# takes types from the front of ORDER.
DISTORTIONS: dict[int, DistortionType] = {
    d.kadid_id: d
    for d in [
        DistortionType(1, "gaussian_blur", _gaussian_blur, 0.95),
        DistortionType(2, "lens_blur", _lens_blur, 0.9),
        DistortionType(3, "motion_blur", _motion_blur, 0.9),
        DistortionType(4, "color_diffusion", _color_diffusion, 0.6),
        DistortionType(5, "color_shift", _color_shift, 0.7),
        DistortionType(6, "color_quantization", _color_quantization, 0.75),
        DistortionType(7, "color_saturation_1", _desaturate, 0.55),
        DistortionType(8, "color_saturation_2", _oversaturate, 0.65),
        DistortionType(9, "resample_blur", _resample_blocking, 0.85),
        DistortionType(10, "jpeg", _jpeg, 0.9),
        DistortionType(11, "white_noise", _white_noise, 1.0),
        DistortionType(12, "white_noise_color", _chroma_noise, 0.8),
        DistortionType(13, "impulse_noise", _impulse_noise, 0.95),
        DistortionType(14, "multiplicative_noise", _multiplicative_noise, 0.9),
        DistortionType(15, "denoise", _denoise, 0.85),
        DistortionType(16, "brighten", _brighten, 0.6),
        DistortionType(17, "darken", _darken, 0.7),
        DistortionType(18, "mean_shift", _mean_shift, 0.6),
        DistortionType(19, "jitter", _jitter, 0.85),
        DistortionType(20, "non_eccentricity_patch", _patch_swap, 0.6),
        DistortionType(21, "pixelate", _pixelate, 0.95),
        DistortionType(22, "quantization", _quantize, 0.8),
        DistortionType(23, "color_block", _color_block, 0.65),
        DistortionType(24, "high_sharpen", _sharpen, 0.7),
        DistortionType(25, "contrast_change", _contrast, 0.75),
    ]
}
ORDER: tuple[int, ...] = (
    1,
    3,
    11,
    10,
    25,
    7,
    16,
    21,
    *tuple(i for i in range(1, 26) if i not in (1, 3, 11, 10, 25, 7, 16, 21)),
)


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


# Bundled photographs (no download: these ship inside scikit-image and matplotlib).
PHOTO_NAMES: tuple[str, ...] = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "grace_hopper",
    "camera",
    "motorcycle_left",
)


def load_photo(name: str) -> np.ndarray:
    """One bundled photograph as an RGB uint8 array."""
    if name == "grace_hopper":
        return _grace_hopper()
    import skimage.data

    arr = skimage.data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(skimage.data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return np.ascontiguousarray(arr[..., :3]).astype(np.uint8)


def make_reference(index: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """Reference ``index`` (0-based): photo ``index % n``, with crop and flip varying by ``index // n``.

    KADID-scale sets need 81 references from ten photos: repeats differ by crop window and flip.
    """
    photo = load_photo(PHOTO_NAMES[index % len(PHOTO_NAMES)])
    variant = index // len(PHOTO_NAMES)
    h, w = photo.shape[:2]
    target_ratio = size[0] / size[1]
    scale = 1.0 - 0.12 * (variant % 4)  # 100%, 88%, 76%, 64% of the largest 4:3 window
    crop_w = int(min(w, h * target_ratio) * scale)
    crop_h = int(crop_w / target_ratio)
    slots = [(0.5, 0.5), (0.0, 0.0), (1.0, 1.0), (0.0, 1.0), (1.0, 0.0)]
    fx, fy = slots[(variant // 4) % len(slots)] if variant else (0.5, 0.5)
    x0 = int((w - crop_w) * fx)
    y0 = int((h - crop_h) * fy)
    img = Image.fromarray(photo[y0 : y0 + crop_h, x0 : x0 + crop_w]).resize(size, Image.Resampling.LANCZOS)
    if variant % 2 == 1:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return img


@dataclass(frozen=True)
class SynthSpec:
    references: int = 8
    types: int = 6
    seed: int = 42
    width: int = WIDTH
    height: int = HEIGHT

    @classmethod
    def kadid_scale(cls, seed: int = 42) -> SynthSpec:
        return cls(references=81, types=25, seed=seed)

    def type_ids(self) -> tuple[int, ...]:
        if not 1 <= self.types <= len(ORDER):
            raise ValueError(f"types must be in 1..{len(ORDER)}, got {self.types}")
        return ORDER[: self.types]

    @property
    def n_images(self) -> int:
        return self.references * self.types * LEVELS


def true_mos(spec: SynthSpec, ref: int, type_id: int, level: int) -> float:
    """The documented MOS model (module docstring), deterministic for (seed, ref, type, level)."""
    rng_ref = np.random.default_rng([spec.seed, ref, 0, 0])
    rng = np.random.default_rng([spec.seed, ref, type_id, level, 1])
    c_r = rng_ref.uniform(-0.1, 0.1)
    s_t = DISTORTIONS[type_id].sensitivity
    mos = 4.6 + c_r - 0.8 * s_t * (level - 1) + rng.uniform(-0.1, 0.1)
    return float(np.clip(mos, 1.0, 5.0))


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _render_reference(args: tuple[SynthSpec, int]) -> list[tuple[str, bytes, str, float, float]]:
    """All images of one reference: (name, png bytes, ref name, mos, var) rows; the ref image first."""
    spec, ref = args
    ref_img = make_reference(ref, (spec.width, spec.height))
    ref_name = f"I{ref + 1:02d}.png"
    rows = [(ref_name, _png_bytes(ref_img), ref_name, float("nan"), float("nan"))]
    for type_id in spec.type_ids():
        for level in range(1, LEVELS + 1):
            rng = np.random.default_rng([spec.seed, ref, type_id, level, 2])
            img = DISTORTIONS[type_id].apply(ref_img, level, rng).convert("RGB")
            name = f"I{ref + 1:02d}_{type_id:02d}_{level:02d}.png"
            var = round(0.3 + 0.08 * level, 4)
            rows.append((name, _png_bytes(img), ref_name, round(true_mos(spec, ref, type_id, level), 4), var))
    return rows


def build(out_dir: Path, spec: SynthSpec = SynthSpec(), workers: int = 1, progress: bool = True) -> Path:
    """Write ``out_dir/kadid10k/{images/*.png, dmos.csv}``; returns the ``kadid10k`` folder.

    Written into a temporary sibling and renamed, so an interrupted build never leaves a half set.
    """
    from tqdm import tqdm

    if spec.references > 99:
        raise ValueError("KADID naming (I01..I99) allows at most 99 references")
    out_dir = Path(out_dir)
    target = out_dir / "kadid10k"
    with atomic_dir(target) as tmp:
        images = tmp / "images"
        images.mkdir(parents=True)
        rows: list[list[str]] = []
        jobs = [(spec, r) for r in range(spec.references)]
        pool = ProcessPoolExecutor(max_workers=workers) if workers > 1 else None
        results = pool.map(_render_reference, jobs) if pool else map(_render_reference, jobs)
        try:
            for ref_rows in tqdm(results, total=len(jobs), desc="synth references", disable=not progress):
                for name, data, ref_name, mos, var in ref_rows:
                    (images / name).write_bytes(data)
                    if name != ref_name:
                        rows.append([name, ref_name, f"{mos:.4f}", f"{var:.4f}"])
        finally:
            if pool:
                pool.shutdown()
        with open(tmp / "dmos.csv", "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(LABEL_COLUMNS)
            writer.writerows(rows)
    return target


def write_zip(dataset_dir: Path, zip_path: Path) -> Path:
    """Zip ``kadid10k/`` the way the real archive is laid out, byte-for-byte deterministic."""
    dataset_dir = Path(dataset_dir)
    files = sorted(p for p in dataset_dir.rglob("*") if p.is_file())
    with atomic_path(Path(zip_path)) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for p in files:
            arcname = f"{dataset_dir.name}/{p.relative_to(dataset_dir).as_posix()}"
            info = zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, p.read_bytes())
    return Path(zip_path)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
