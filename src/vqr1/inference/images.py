"""Images as the model sees them: any input form (a path, bytes from a store, a PIL image, an array, a tensor)
to 8-bit RGB, fully decoded, with a bound on the pixels decoded.

Why one place: the same picture given as a file, a PIL image, an array or a tensor must reach the processor as
the same pixels, so every form goes through :func:`to_image`. A file that is missing, cannot be read or is larger
than ``max_decode_pixels`` (checked on the header, before decoding) is a :class:`DataError` naming it; every
image mode becomes 8-bit RGB with its own scaling (:func:`to_rgb`).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from vqr1 import layout
from vqr1.config import MAX_DECODE_PIXELS
from vqr1.errors import DataError


@dataclass(frozen=True)
class ImageBlob:
    """An encoded image that is not a local file (an object of a store): its name for messages, its bytes."""

    name: str
    data: bytes

    def __str__(self) -> str:
        return self.name


# Modes whose values PIL's convert("RGB") would clip at 255 instead of scaling: 16-bit grey (Pillow opens
# 16-bit PNG/TIFF as I;16*, and its 32-bit "I" holds such data too) and float grey, taken as [0, 1].
_WIDE_MODES = {"I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I;16N": 65535, "I": 65535, "F": 1}


def to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB from any PIL mode, each scaled by its own range.

    16-bit grey maps 0-65535 onto 0-255 (``convert`` clipped it: a 16-bit PNG came out 99.5% white) and
    float grey maps 0-1 onto 0-255; alpha is dropped, as the reference's loaders do (``convert("RGB")``);
    palette, CMYK, YCbCr, LAB and 1-bit images go through PIL's own converters.
    """
    top = _WIDE_MODES.get(img.mode)
    if top is not None:
        values = np.clip(np.asarray(img, dtype=np.float32) * (255.0 / top), 0, 255)
        return Image.fromarray(np.rint(values).astype(np.uint8), "L").convert("RGB")
    if img.mode in ("La", "RGBa"):  # premultiplied alpha: PIL converts these only via their plain form
        img = img.convert("LA" if img.mode == "La" else "RGBA")
    return img.convert("RGB")


def load_image(
    path: Path | ImageBlob, short_edge: int | None = None, max_decode_pixels: int = MAX_DECODE_PIXELS
) -> Image.Image:
    """An 8-bit RGB image, fully decoded now (so a truncated file fails here, with its name), optionally
    downscaled; a missing file, or one over ``max_decode_pixels`` (read from its header), is a DataError.

    ``short_edge`` downscales so the shorter side is that many pixels (SPAQ: 768); smaller images are
    left as they are, since upscaling adds no information.
    """
    if not isinstance(path, ImageBlob) and not Path(path).is_file():
        raise DataError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():  # PIL warns on opening a large file; the bound below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(path.data) if isinstance(path, ImageBlob) else path)
        with img:
            width, height = img.size
            if width * height > max_decode_pixels:
                raise DataError(
                    f"{path}: {width}x{height} = {width * height:,} pixels, more than "
                    f"evaluate.max_decode_pixels ({max_decode_pixels:,}); refused before decoding"
                )
            img.load()
            rgb = to_rgb(img)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from exc
    return downscale(rgb, short_edge)


def downscale(rgb: Image.Image, short_edge: int | None) -> Image.Image:
    """``rgb`` with its shorter side at most ``short_edge`` pixels (None: as it is)."""
    if short_edge and min(rgb.size) > short_edge:
        scale = short_edge / min(rgb.size)
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
    return rgb


# What the scorer accepts for one image: a file, an object's bytes, a PIL image, an HxWx3 uint8 array or a
# 3xHxW float tensor in [0, 1] (a Bx3xHxW tensor is split into B images by :func:`split_inputs`).
ImageInput = Any


def split_inputs(images: Any) -> list[ImageInput]:
    """One entry per image: a list as given, a batch tensor (Bx3xHxW) as its B images, anything else as one."""
    if isinstance(images, (list, tuple)):
        return [one for item in images for one in split_inputs(item)]
    if _is_tensor(images) and images.ndim == 4:
        return list(images)
    return [images]


def image_name(image: ImageInput, index: int) -> str:
    """The name a result carries: the path (or store URI) as given, else ``<image N>`` by position."""
    if isinstance(image, (str, Path, ImageBlob)):
        return str(image)
    return f"<image {index}>"


def to_image(
    image: ImageInput, short_edge: int | None = None, max_decode_pixels: int = MAX_DECODE_PIXELS
) -> Image.Image:
    """8-bit RGB from any accepted form; a value that is none of them, or has the wrong shape or range, is a
    DataError. A float tensor maps [0, 1] onto 0-255 by rounding, so a tensor made from 8-bit pixels (``/255``)
    gives those pixels back exactly."""
    if isinstance(image, (str, Path, ImageBlob)):
        return load_image(Path(image) if isinstance(image, str) else image, short_edge, max_decode_pixels)
    if isinstance(image, Image.Image):
        return downscale(to_rgb(image), short_edge)
    if _is_tensor(image):
        if image.ndim != 3 or image.shape[0] != 3 or not image.is_floating_point():
            raise DataError(
                f"a tensor image must be float 3xHxW in [0, 1], got {image.dtype} {tuple(image.shape)}"
            )
        values = image.detach().float().cpu().numpy().transpose(1, 2, 0)
        if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1):
            raise DataError("a tensor image must hold values in [0, 1]")
        image = np.rint(values * 255.0).astype(np.uint8)
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise DataError(f"an array image must be HxWx3 uint8, got {image.dtype} {image.shape}")
        return downscale(Image.fromarray(image, "RGB"), short_edge)
    raise DataError(f"not an image: {type(image).__name__} (a path, PIL image, array or tensor)")


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "ndim")


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their image files (recursive, sorted). A path that does not exist stays
    in the list: the scorer reports it as that file's error, like any other bad file."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(
                sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in layout.IMAGE_SUFFIXES
                )
            )
        else:
            out.append(path)
    return out
