"""The image pipeline: untrusted bytes in, clean public variants (or a reason to refuse) out.

Pure and synchronous, so it runs in a worker process (see ``workers.py``). The format is
sniffed from the bytes by Pillow's decoders, never taken from a name or a header. The
pixel limit is checked on the header, before anything is decoded. Every output is
re-encoded from pixels alone: no EXIF, GPS, XMP, comment or ICC profile survives (pixels
are converted to sRGB first, which is what a viewer assumes without a profile).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass, field

import imagehash
import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

pillow_heif.register_heif_opener()

# Pillow's format names for what phones shoot; anything else is refused.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
# Longest side in pixels; a variant is never larger than its original.
SIZES = {"thumb": 320, "medium": 1024, "large": 2048}
ENCODINGS = {"webp": ("WEBP", "image/webp"), "jpg": ("JPEG", "image/jpeg")}
JPEG_QUALITY = 82
WEBP_QUALITY = 80
# libwebp effort 0-6: 2 measured fastest here at about the same size as the default 4.
WEBP_METHOD = 2
# EXIF orientations 5-8 turn the picture a quarter: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
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
    orientation = image.getexif().get(0x0112, 1)
    if orientation in _QUARTER_TURNS:
        width, height = height, width
    if image.format == "JPEG":
        # Decode at a reduced DCT scale when the largest variant allows: far less work and memory.
        image.draft(image.mode, (max(SIZES.values()),) * 2)
    image.seek(0)  # an animation is represented by its first frame
    image.load()
    upright = ImageOps.exif_transpose(image) or image
    del image  # each full-size copy is ~4 bytes per pixel: keep as few alive as possible
    pixels = _to_srgb(upright)
    del upright
    pixels.info = {}

    variants: list[Variant] = []
    # Largest first, each shrunk in place from the one before (no full-size copies).
    resized = pixels
    for size_name, longest in sorted(SIZES.items(), key=lambda item: -item[1]):
        resized.thumbnail((longest, longest), Image.Resampling.LANCZOS, reducing_gap=3.0)
        for ext, (fmt, content_type) in ENCODINGS.items():
            encoded = _encode(resized, fmt)
            variants.append(Variant(f"{size_name}.{ext}", content_type, resized.width, resized.height, encoded))
    phash = str(imagehash.phash(resized.convert("RGB")))  # from the thumbnail
    return Processed(width=width, height=height, phash=phash, variants=tuple(variants))


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in {"RGBA", "LA", "PA", "La", "RGBa"} or (image.mode == "P" and "transparency" in image.info)


def _to_srgb(image: Image.Image) -> Image.Image:
    """8-bit RGB or RGBA pixels in sRGB, whatever the source mode, depth or profile."""
    alpha = image.getchannel("A") if image.mode in {"RGBA", "LA", "PA"} else None
    if image.mode.startswith("I;16"):
        image = image.convert("I")
    if image.mode in {"I", "F"}:  # 16-bit or float grey: scale down rather than clip
        image = image.point(lambda v: v * (1 / 256)).convert("L")
    icc = image.info.get("icc_profile")
    target = "RGBA" if alpha is not None or _has_alpha(image) else "RGB"
    if icc and image.mode in {"RGB", "RGBA", "CMYK", "L", "LA"}:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            base = image.convert("RGB") if image.mode in {"RGBA", "LA"} else image
            converted = ImageCms.profileToProfile(base, source, _SRGB, outputMode="RGB")
            if converted is not None:
                if target == "RGBA":
                    converted.putalpha(alpha if alpha is not None else image.convert("RGBA").getchannel("A"))
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: the pixels are taken as they are
    return image.convert(target)


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        if image.mode == "RGBA":  # JPEG has no alpha: flatten onto white
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    else:
        image.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return out.getvalue()


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
