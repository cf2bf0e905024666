"""The image pipeline: untrusted bytes in, clean public variants (or a reason to refuse) out.

Pure and synchronous, so it runs in a worker process (see ``workers.py``). The format is
sniffed from the bytes by Pillow's decoders, never taken from a name or a header. The
pixel limit is checked on the header, before anything is decoded. Every output is
re-encoded from pixels alone: no EXIF, GPS, XMP, comment or ICC profile survives (pixels
are converted to sRGB first, which is what a viewer assumes without a profile).

The work is done at the size of the largest variant, not at the camera's: libvips decodes
a JPEG and resamples it in one stream (a few rows at a time, never the whole picture at
full size), and the picture is turned upright and colour-converted only once it has been
reduced. Other formats are decoded by Pillow and resampled in bands. The smaller variants
are made from the large one, each from the one before, by libvips.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import imagehash
import numpy as np
import numpy.typing as npt
import pillow_heif
import pyvips  # type: ignore[import-untyped]
from PIL import Image, ImageCms, UnidentifiedImageError

pillow_heif.register_heif_opener()
# libvips: no operation cache (nothing of one upload is kept for the next), one thread (the pool
# already runs a worker per core) and none of the loaders it marks as unfit for untrusted input
# (only its JPEG loader is ever called here).
pyvips.cache_set_max(0)
pyvips.concurrency_set(1)
pyvips.block_untrusted_set(True)

# Pillow's format names for what phones shoot; anything else is refused.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# Longest side in pixels; a variant is never larger than its original.
SIZES = {"thumb": 320, "medium": 1024, "large": 2048}
ENCODINGS = {"webp": ("WEBP", "image/webp"), "jpg": ("JPEG", "image/jpeg")}
JPEG_QUALITY = 82
WEBP_QUALITY = 80
# libwebp effort 0-6 per variant. 2 for the two larger ones, as before: method 1 saved 25-30% of
# their encoding time but moved the large file below the quality gate (its SSIM against the
# previous output 0.947 instead of 0.969 on bench.media's photo; 0.953 instead of 0.969, and 8%
# larger, on tests/unit/test_media_quality.py's); every viewer pays for the bytes, the upload
# only once for the time. The thumbnail is cheap.
WEBP_METHOD = {"large": 2, "medium": 2, "thumb": 4}
# Lanczos (a = 3) for every variant, as the previous pipeline (its SSIM against it is the quality
# gate): Pillow's for the large variant of pictures Pillow decodes, libvips' for JPEGs and for
# the smaller variants (0.997-0.999 SSIM against Pillow's on bench.media's photo; the medium
# variant in half the time of Pillow's bicubic, a third of its Lanczos).
LARGE_RESAMPLE = Image.Resampling.LANCZOS
_VIPS_KERNEL = "lanczos3"
# A JPEG is decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling) only where that leaves the
# large variant this much room: a scale just above the target leaves the final resampling too
# little to work with and measurably softens the picture against a resampling from full size.
DECODE_MARGIN = 1.4
ORIENTATION = 0x0112
# EXIF orientation -> the transposition that makes the picture upright (as ImageOps.exif_transpose).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# EXIF orientations 5-8 turn the picture a quarter: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
# JPEG colour models libvips decodes and resamples (Pillow's mode -> bands); CMYK and YCCK go
# through Pillow, which knows Adobe's inverted CMYK.
_VIPS_BANDS = {"RGB": 3, "L": 1}
# Modes Pillow resizes as they are; the others are first brought to 8 bits per channel.
_RESIZABLE = {"RGB", "RGBA", "L", "LA", "CMYK"}
# Output rows per band when resizing the decoded picture (see _resize_in_bands), and how far
# (in output pixels) Pillow's Lanczos filter reaches.
_BAND_ROWS = 128
_LANCZOS_SUPPORT = 3.0
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Variant:
    name: str  # e.g. "thumb.webp"
    content_type: str
    width: int
    height: int
    data: bytes = field(repr=False)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.data).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class Processed:
    width: int
    height: int
    phash: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Rejected:
    reason: str


def process(data: bytes, *, max_pixels: int) -> Processed | Rejected:
    """Decode, bound, orient, clean and resize one image. Never raises for bad input."""
    if not data:
        return Rejected("The file is empty.")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice its limit: here that is a refusal too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _process(data, max_pixels=max_pixels)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Rejected(f"The image has more than {max_pixels // 1_000_000} megapixels.")
    except UnidentifiedImageError:
        return Rejected("The file is not a JPEG, PNG, WebP or HEIC image.")
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # Truncated or corrupt data surfaces as one of these from the decoders.
        return Rejected(f"The image could not be decoded ({_short(exc)}).")


def _process(data: bytes, *, max_pixels: int) -> Processed | Rejected:
    Image.MAX_IMAGE_PIXELS = max_pixels  # a second line of defence inside Pillow's own checks
    image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    width, height = image.size
    if width < 1 or height < 1:
        return Rejected("The image has no pixels.")
    if width * height > max_pixels:
        return Rejected(
            f"The image is {width}x{height} pixels; at most {max_pixels // 1_000_000} megapixels are accepted."
        )
    orientation = image.getexif().get(ORIENTATION, 1)
    turn = _UPRIGHT.get(orientation)
    quarter = orientation in _QUARTER_TURNS
    # Variant sizes, upright, all from the original's size (never larger than it).
    sizes = {name: _fit((height, width) if quarter else (width, height), longest) for name, longest in SIZES.items()}
    large_w, large_h = sizes["large"]
    as_stored = (large_h, large_w) if quarter else (large_w, large_h)  # the large variant before turning

    icc = image.info.get("icc_profile")
    decoded = _decode_reduced(image, data, covering=as_stored)
    del image
    reduced = _resize_in_bands(decoded, as_stored)
    del decoded
    if turn is not None:
        reduced = reduced.transpose(turn)
    current = _to_srgb(reduced, icc)
    del reduced
    # Pillow carries ``info`` through convert, resize and transpose, and its JPEG writer would
    # write a comment found there: nothing read from the file goes any further.
    current.info = {}

    variants: list[Variant] = []
    for size_name, _ in sorted(SIZES.items(), key=lambda item: -item[1]):
        if current.size != sizes[size_name]:
            current = _smaller(current, sizes[size_name])  # from the variant before: small work
        for ext, (fmt, content_type) in ENCODINGS.items():
            encoded = _encode(current, fmt, webp_method=WEBP_METHOD[size_name])
            variants.append(Variant(f"{size_name}.{ext}", content_type, current.width, current.height, encoded))
    phash = str(imagehash.phash(current.convert("RGB")))  # from the thumbnail
    upright = (height, width) if quarter else (width, height)
    return Processed(width=upright[0], height=upright[1], phash=phash, variants=tuple(variants))


def _fit(size: tuple[int, int], longest: int) -> tuple[int, int]:
    """``size`` shrunk into a ``longest`` square, aspect kept, rounded as ``Image.thumbnail`` rounds."""
    width, height = size
    if width <= longest and height <= longest:
        return size
    aspect = width / height

    def nearest(number: float, error: Callable[[int], float]) -> int:
        return max(min(math.floor(number), math.ceil(number), key=error), 1)

    if aspect <= 1:
        return nearest(longest * aspect, lambda n: abs(aspect - n / longest)), longest
    return longest, nearest(longest / aspect, lambda n: abs(aspect - longest / n) if n else 0)


def _resize_in_bands(source: Image.Image | npt.NDArray[np.uint8], size: tuple[int, int]) -> Image.Image:
    """``source`` resized to ``size`` with ``LARGE_RESAMPLE``, one band of rows at a time.

    A whole resize would keep Pillow's full-height intermediate (its horizontal pass) next to
    the source and the result: most of the memory peak for a decoded photo. Each band takes
    the source rows its filter reaches beyond the band, so the pixels are those of one whole
    resize. A numpy array (a decoder's output) is read in place and copied into Pillow band by
    band, as RGB: Pillow resamples 3 channels where a copy-free RGBX view would have cost it 4.
    """
    in_height, in_width = source.shape[:2] if isinstance(source, np.ndarray) else (source.height, source.width)
    if (in_width, in_height) == size:
        return _rows(source, 0, in_height)
    width, height = size
    scale = in_height / height
    margin = math.ceil(_LANCZOS_SUPPORT * max(scale, 1.0)) + 1
    result: Image.Image | None = None
    for top in range(0, height, _BAND_ROWS):
        bottom = min(top + _BAND_ROWS, height)
        first, last = max(math.floor(top * scale) - margin, 0), min(math.ceil(bottom * scale) + margin, in_height)
        band = _rows(source, first, last)
        if result is None:
            result = Image.new(band.mode, size)
        box = (0.0, top * scale - first, float(in_width), bottom * scale - first)
        result.paste(band.resize((width, bottom - top), LARGE_RESAMPLE, box=box), (0, top))
    assert result is not None  # height >= 1
    return result


def _rows(source: Image.Image | npt.NDArray[np.uint8], top: int, bottom: int) -> Image.Image:
    """Rows ``top`` to ``bottom`` of ``source`` as a Pillow image of their own, in 8 bits per channel."""
    if isinstance(source, np.ndarray):
        return Image.fromarray(source[top:bottom])
    return _eight_bit(source if (top, bottom) == (0, source.height) else source.crop((0, top, source.width, bottom)))


def _smaller(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """An 8-bit RGB or RGBA ``image`` resampled down to ``size`` by libvips (Lanczos 3); by Pillow
    should libvips ever round the size differently (never seen, checked on 10,000 sizes)."""
    source = pyvips.Image.new_from_memory(image.tobytes(), image.width, image.height, len(image.getbands()), "uchar")
    resized = source.resize(size[0] / image.width, vscale=size[1] / image.height, kernel=_VIPS_KERNEL)
    if (resized.width, resized.height) != size:
        return image.resize(size, LARGE_RESAMPLE)
    return Image.frombytes(image.mode, size, resized.write_to_memory())


def _decode_reduced(image: Image.Image, data: bytes, *, covering: tuple[int, int]) -> Image.Image:
    """The pixels at ``covering``'s size where libvips can make them (most JPEGs), else Pillow's
    image decoded at the smallest scale its decoder offers that still covers ``covering``."""
    if image.format in {"JPEG", "MPO"} and image.mode in _VIPS_BANDS:
        reduced = _jpeg_reduced_by_libvips(data, image.mode, image.size, covering)
        if reduced is not None:
            return reduced
    if image.format == "JPEG":
        image.draft(image.mode, covering)  # 1/2, 1/4 or 1/8 where that still covers
    image.seek(0)  # an animation is represented by its first frame
    image.load()
    return image


def _jpeg_reduced_by_libvips(
    data: bytes, mode: str, size: tuple[int, int], covering: tuple[int, int]
) -> Image.Image | None:
    """A JPEG decoded and resampled to ``covering`` (Lanczos 3) by libvips, or None for Pillow to decide.

    libvips streams: the decoder's scanlines go through the resampling a few at a time, so no
    full-size picture is ever held. Where the photo is at least twice the size needed (with
    ``DECODE_MARGIN`` to spare), libjpeg-turbo decodes at 1/2, 1/4 or 1/8 scale first. Any
    decoding error (a truncated file, say), a header that disagrees with the one checked
    above, or an unexpected pixel format leaves the picture to Pillow's decoder, as before;
    libjpeg's mere warnings (stray bytes between markers, written by some cameras) do not.
    """
    width, height = size
    shrink = max(
        s
        for s in (1, 2, 4, 8)
        if s == 1 or (width // s >= covering[0] * DECODE_MARGIN and height // s >= covering[1] * DECODE_MARGIN)
    )
    try:
        loaded = pyvips.Image.jpegload_buffer(data, shrink=shrink, access="sequential", fail_on="error")
        if (loaded.width, loaded.height) != (math.ceil(width / shrink), math.ceil(height / shrink)):
            return None
        if loaded.bands != _VIPS_BANDS[mode] or loaded.format != "uchar":
            return None
        if (loaded.width, loaded.height) != covering:
            loaded = loaded.resize(covering[0] / loaded.width, vscale=covering[1] / loaded.height, kernel=_VIPS_KERNEL)
            if (loaded.width, loaded.height) != covering:
                return None
        pixels = loaded.write_to_memory()
    except pyvips.Error:
        return None
    return Image.frombytes(mode, covering, pixels)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA", "La", "RGBa"} or (image.mode == "P" and "transparency" in image.info)


def _eight_bit(image: Image.Image) -> Image.Image:
    """8 bits per channel in a mode Pillow resizes as it is; the colour model and alpha are kept."""
    if image.mode in _RESIZABLE:
        return image
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    if image.mode in {"I", "F"}:  # 16-bit or float grey: scale down rather than clip
        return image.point(lambda v: v * (1 / 256)).convert("L")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """8-bit RGB or RGBA pixels in sRGB, from 8-bit pixels in the colour model and profile they came in."""
    alpha = image.getchannel("A") if image.mode in {"RGBA", "LA"} else None
    target = "RGBA" if alpha is not None else "RGB"
    if icc and image.mode in {"RGB", "RGBA", "CMYK", "L", "LA"}:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            base = image.convert("RGB") if image.mode in {"RGBA", "LA"} else image
            converted = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
            if converted is not None:
                if alpha is not None:
                    converted.putalpha(alpha)
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as they are
    return image if image.mode == target else image.convert(target)


def _encode(image: Image.Image, fmt: str, *, webp_method: int) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode == "RGBA":  # JPEG has no alpha: flatten onto white
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        # Baseline with optimised Huffman tables: progressive coding took 2.5x the time for ~4% of size.
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=webp_method)
    return out.getvalue()


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
