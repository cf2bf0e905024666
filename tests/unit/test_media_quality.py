"""The reduced-scale pipeline against the full-size one it replaced: no visible loss.

The reference is made here, by the steps the previous pipeline took (decode at full size,
turn upright, Lanczos to 2048 px, JPEG q82 progressive and WebP q80 method 2), so the test
needs no copy of old code. SSIM from scikit-image (a dev dependency).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps
from skimage.metrics import structural_similarity

from snapfix_media.pipeline import Processed, process

pytestmark = pytest.mark.unit

ORIENTATION = 0x0112
MIN_SSIM = 0.95


def photo(size: tuple[int, int], *, seed: int = 13) -> Image.Image:
    """A deterministic stand-in for a phone photo: light falloff, blotchy mid-scale texture,
    hard edges and fine lines, and sensor grain."""
    rng = np.random.default_rng(seed)
    width, height = size
    light = Image.radial_gradient("L").resize(size, Image.Resampling.BILINEAR)
    blotches = Image.fromarray(rng.integers(0, 256, (height // 32, width // 32, 3), dtype=np.uint8))
    image = Image.blend(Image.merge("RGB", (light, light, light)), blotches.resize(size, Image.Resampling.BICUBIC), 0.5)
    grain = rng.integers(-8, 9, (height, width, 1), dtype=np.int16)
    image = Image.fromarray(np.clip(np.asarray(image, dtype=np.int16) + grain, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for i in range(24):
        left, top = i * width // 30, i * height // 40
        draw.rectangle((left, top, left + width // 6, top + height // 9), outline=(20, 30 + i * 8, 200), width=9)
        draw.line((0, top * 2 % height, width, (top * 2 + 300) % height), fill=(240, 240, 230), width=2)
    return image


def jpeg(image: Image.Image, *, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def previous_pipeline_large(data: bytes) -> dict[str, bytes]:
    """The large variant as the full-size pipeline made it."""
    with Image.open(io.BytesIO(data)) as original:
        original.load()
        upright = ImageOps.exif_transpose(original).convert("RGB")
    upright.thumbnail((2048, 2048), Image.Resampling.LANCZOS, reducing_gap=3.0)
    jpg, webp = io.BytesIO(), io.BytesIO()
    upright.save(jpg, "JPEG", quality=82, optimize=True, progressive=True)
    upright.save(webp, "WEBP", quality=80, method=2)
    return {"large.jpg": jpg.getvalue(), "large.webp": webp.getvalue()}


def ssim(a: bytes, b: bytes) -> float:
    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"))
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
    assert x.shape == y.shape
    return float(structural_similarity(x, y, channel_axis=2, data_range=255))


def test_the_large_variant_of_a_turned_photo_is_within_ssim_095_of_the_full_size_pipeline() -> None:
    # A 4000 px wide strip (4 MP, so that SSIM stays quick) decodes at 6/8 scale, is resampled
    # to 2048 px and only then turned upright: every step that differs from the full-size path.
    data = jpeg(photo((4000, 1000)), orientation=6)
    result = process(data, max_pixels=50_000_000)
    assert isinstance(result, Processed)
    reference = previous_pipeline_large(data)
    for v in result.variants:
        if v.name in reference:
            assert (v.width, v.height) == Image.open(io.BytesIO(reference[v.name])).size
            assert ssim(v.data, reference[v.name]) >= MIN_SSIM, v.name
