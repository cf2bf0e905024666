"""The image pipeline on hostile and odd input: a clean rejection or a correct normalization.

Every test image is made here with Pillow; outputs are checked by decoding them again.
"""

from __future__ import annotations

import io
import itertools
import struct
import zlib

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageDraw

from snapfix_media.pipeline import Processed, Rejected, Variant, process

pytestmark = pytest.mark.unit

MAX_PIXELS = 50_000_000
VARIANT_NAMES = {"thumb.webp", "thumb.jpg", "medium.webp", "medium.jpg", "large.webp", "large.jpg"}
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def gradient(size: tuple[int, int] = (640, 480), mode: str = "RGB") -> Image.Image:
    """A picture with structure (so hashes and orientation mean something), in ``mode``."""
    horizontal = Image.linear_gradient("L").rotate(90).resize(size)
    vertical = Image.linear_gradient("L").resize(size)
    image = Image.merge("RGB", (horizontal, vertical, Image.new("L", size, 128)))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w // 8, h // 8, w // 2, h // 2), fill=(250, 240, 20))
    draw.rectangle((w * 5 // 8, h // 2, w * 7 // 8, h * 7 // 8), fill=(10, 20, 200))
    return image.convert(mode)


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 18.0)})
    return exif


def processed(data: bytes) -> Processed:
    result = process(data, max_pixels=MAX_PIXELS)
    assert isinstance(result, Processed), result
    return result


def rejected(data: bytes) -> str:
    result = process(data, max_pixels=MAX_PIXELS)
    assert isinstance(result, Rejected), result
    return result.reason


def variant(result: Processed, name: str) -> Variant:
    return next(v for v in result.variants if v.name == name)


def assert_clean(v: Variant) -> Image.Image:
    """The variant decodes as what it claims and carries no metadata at all."""
    image = Image.open(io.BytesIO(v.data))
    assert image.format == {"image/webp": "WEBP", "image/jpeg": "JPEG"}[v.content_type]
    assert image.size == (v.width, v.height)
    assert not image.getexif(), f"{v.name} has EXIF"
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop"):
        assert key not in image.info, f"{v.name} carries {key}"
    for marker in (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"PhoneMaker", b"PK\x03\x04", b"<html"):
        assert marker not in v.data, f"{v.name} contains {marker!r}"
    image.load()
    return image


# -- what phones shoot ---------------------------------------------------------------------


def test_a_jpeg_gets_six_clean_variants_none_larger_than_asked() -> None:
    result = processed(encode(gradient((3000, 2000)), "JPEG", exif=exif_with_gps(), comment=b"home sweet home"))
    assert {v.name for v in result.variants} == VARIANT_NAMES
    assert (result.width, result.height) == (3000, 2000)
    for v in result.variants:
        assert_clean(v)
    assert (variant(result, "thumb.jpg").width, variant(result, "thumb.jpg").height) == (320, 213)
    assert variant(result, "medium.webp").width == 1024
    assert variant(result, "large.jpg").width == 2048
    assert len(result.phash) == 16


def test_a_small_image_is_never_upscaled() -> None:
    result = processed(encode(gradient((200, 100)), "PNG"))
    assert {(v.width, v.height) for v in result.variants} == {(200, 100)}


def test_exif_orientation_is_applied_and_then_removed() -> None:
    # A landscape sensor image tagged "rotate 90° clockwise" is a portrait photo.
    result = processed(encode(gradient((400, 300)), "JPEG", exif=exif_with_gps(orientation=6)))
    assert (result.width, result.height) == (300, 400)
    image = assert_clean(variant(result, "large.webp"))
    assert image.size == (300, 400)


def test_a_heic_from_a_phone_is_accepted_and_cleaned() -> None:
    heif = pillow_heif.from_pillow(gradient((640, 480)))
    out = io.BytesIO()
    heif.save(out, exif=exif_with_gps().tobytes())
    result = processed(out.getvalue())
    assert (result.width, result.height) == (640, 480)
    for v in result.variants:
        assert_clean(v)


def test_webp_with_xmp_and_exif_is_cleaned() -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://ns.adobe.com/xap/1.0/"/></x:xmpmeta>'
    data = encode(gradient(), "WEBP", exif=exif_with_gps(), xmp=xmp)
    for v in processed(data).variants:
        assert_clean(v)


def test_an_icc_profile_is_converted_to_srgb_and_dropped() -> None:
    from PIL import ImageCms

    lab_like = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    assert lab_like
    for v in processed(encode(gradient(), "JPEG", icc_profile=srgb)).variants:
        assert_clean(v)


def test_same_picture_in_two_formats_has_a_close_perceptual_hash() -> None:
    import imagehash

    picture = gradient((800, 600))
    a = processed(encode(picture, "JPEG", quality=60)).phash
    b = processed(encode(picture, "PNG")).phash
    assert imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b) <= 4


def test_a_large_turned_jpeg_gets_the_variant_sizes_of_a_full_size_thumbnail() -> None:
    # Decoded at a reduced DCT scale and turned afterwards; the sizes still follow Image.thumbnail.
    result = processed(encode(gradient((4031, 1013)), "JPEG", exif=exif_with_gps(orientation=8)))
    assert (result.width, result.height) == (1013, 4031)
    for name, longest in (("thumb", 320), ("medium", 1024), ("large", 2048)):
        expected = Image.new("1", (1013, 4031))
        expected.thumbnail((longest, longest))
        for ext in ("webp", "jpg"):
            assert assert_clean(variant(result, f"{name}.{ext}")).size == expected.size


def test_resizing_in_bands_gives_the_pixels_of_one_whole_resize() -> None:
    from snapfix_media.pipeline import LARGE_RESAMPLE, _resize_in_bands

    source = gradient((1500, 1100))
    for size, kind in itertools.product(((1024, 751), (333, 1000), (1500, 1100)), ("image", "decoder array")):
        whole = source.resize(size, LARGE_RESAMPLE)
        banded = _resize_in_bands(source if kind == "image" else np.asarray(source), size)
        assert (banded.mode, banded.size) == ("RGB", whole.size)
        # Float rounding of a band's box may move a rare pixel by one level, never more.
        assert int(np.abs(np.asarray(banded, dtype=np.int16) - np.asarray(whole)).max()) <= 1


# -- odd but legitimate -----------------------------------------------------------------------


def test_a_cmyk_jpeg_becomes_rgb() -> None:
    result = processed(encode(gradient(mode="CMYK"), "JPEG"))
    for v in result.variants:
        assert assert_clean(v).mode in {"RGB", "RGBA"}


@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("size", [(600, 400), (3600, 700)])
def test_a_jpeg_comment_reaches_no_variant_whichever_decoder_and_size(mode: str, size: tuple[int, int]) -> None:
    data = encode(gradient(size, mode=mode), "JPEG", comment=b"home sweet home")
    for v in processed(data).variants:
        assert_clean(v)
        assert b"home sweet home" not in v.data


def test_a_large_cmyk_jpeg_is_reduced_by_pillow_and_becomes_rgb() -> None:
    result = processed(encode(gradient((4200, 900), mode="CMYK"), "JPEG"))
    large = assert_clean(variant(result, "large.jpg"))
    assert (large.mode, large.size) == ("RGB", (2048, 439))


def test_a_large_grey_jpeg_is_published_as_rgb() -> None:
    result = processed(encode(gradient((3600, 800), mode="L"), "JPEG"))
    for v in result.variants:
        assert assert_clean(v).mode == "RGB"
    assert (variant(result, "large.webp").width, variant(result, "large.webp").height) == (2048, 455)


def test_a_large_progressive_jpeg_is_decoded() -> None:
    result = processed(encode(gradient((3400, 800)), "JPEG", progressive=True))
    assert variant(result, "large.jpg").width == 2048


@pytest.mark.parametrize("size", [(800, 600), (3600, 800)])
def test_a_jpeg_with_stray_bytes_between_markers_is_still_accepted(size: tuple[int, int]) -> None:
    # Some cameras write these; libjpeg only warns, and Pillow's decoder has always accepted them.
    data = encode(gradient(size), "JPEG")
    at = data.index(b"\xff\xc4")  # the first Huffman table
    result = processed(data[:at] + b"\x00\x11\x22" + data[at:])
    assert variant(result, "large.jpg").width == min(size[0], 2048)


def test_a_multi_picture_jpeg_is_reduced_to_its_first_picture() -> None:
    first, second = Image.new("RGB", (3000, 700), "red"), Image.new("RGB", (3000, 700), "blue")
    data = encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(io.BytesIO(data)).format == "MPO"
    image = assert_clean(variant(processed(data), "thumb.webp"))
    r, g, b = image.convert("RGB").getpixel((100, 30))  # type: ignore[misc]
    assert (r > 200, g < 50, b < 50) == (True, True, True)


def test_a_16_bit_png_with_alpha_keeps_its_alpha_in_webp_and_is_flattened_in_jpeg() -> None:
    # Pillow writes 16 bits per channel for "I;16"; add an alpha plane with a grey+alpha PNG too.
    grey16 = Image.new("I;16", (300, 200))
    grey16.putdata([x * 200 for y in range(200) for x in range(300)])
    assert processed(encode(grey16, "PNG")).variants
    rgba = gradient((300, 200), "RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((300, 200)))
    png = _png_16bit_rgba(300, 200)
    for data in (encode(rgba, "PNG"), png):
        result = processed(data)
        assert assert_clean(variant(result, "thumb.webp")).mode == "RGBA"
        assert assert_clean(variant(result, "thumb.jpg")).mode == "RGB"


def _png_16bit_rgba(width: int, height: int) -> bytes:
    """A genuine 16-bit-per-channel RGBA PNG (colour type 6, bit depth 16), written by hand."""
    rows = b"".join(
        b"\x00" + b"".join(struct.pack(">HHHH", x * 200, y * 300, 30000, (x + y) * 100) for x in range(width))
        for y in range(height)
    )
    return _png(width, height, bit_depth=16, colour_type=6, raw=rows)


def _png(width: int, height: int, *, bit_depth: int, colour_type: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_an_animated_webp_is_reduced_to_its_first_frame() -> None:
    frames = [Image.new("RGB", (200, 200), colour) for colour in ("red", "blue", "green")]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    image = assert_clean(variant(processed(data), "thumb.webp"))
    assert getattr(image, "n_frames", 1) == 1
    r, g, b = image.convert("RGB").getpixel((100, 100))  # type: ignore[misc]
    assert (r > 200, g < 50, b < 50) == (True, True, True)


def test_an_animated_gif_is_refused_as_not_an_accepted_format() -> None:
    frames = [Image.new("P", (50, 50), i) for i in range(3)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert "not a JPEG, PNG, WebP or HEIC" in rejected(data)


def test_a_png_declared_as_jpeg_is_recognised_by_its_bytes() -> None:
    # The name and declared type never reach the pipeline: only the bytes do.
    result = processed(encode(gradient(), "PNG"))
    assert variant(result, "thumb.jpg").content_type == "image/jpeg"


@pytest.mark.parametrize("tail", [b"PK\x03\x04" + b"\x00" * 200, b"<html><script>alert(1)</script></html>"])
def test_a_polyglot_is_reduced_to_its_picture(tail: bytes) -> None:
    for v in processed(encode(gradient(), "JPEG") + tail).variants:
        assert_clean(v)


# -- hostile --------------------------------------------------------------------------------------


def test_zero_bytes_are_refused() -> None:
    assert rejected(b"") == "The file is empty."


def test_html_is_refused() -> None:
    assert "not a JPEG, PNG, WebP or HEIC" in rejected(b"<html><body>hi</body></html>")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_file_is_refused(fmt: str) -> None:
    data = encode(gradient((800, 600)), fmt)
    assert rejected(data[: len(data) // 2])


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    # 8000 x 7000 one-bit pixels compress to a few kilobytes and would decode to 56 MP.
    bomb = encode(Image.new("1", (8000, 7000)), "PNG")
    assert len(bomb) < 100_000
    assert "megapixels" in rejected(bomb)


def test_huge_dimensions_in_a_tiny_file_are_refused() -> None:
    tiny = _png(100_000, 100_000, bit_depth=8, colour_type=0, raw=b"\x00" * 64)
    assert len(tiny) < 200
    assert "megapixels" in rejected(tiny)


async def test_an_image_over_its_time_is_rejected_and_the_workers_recover() -> None:
    from snapfix_media.workers import ImageWorkers

    workers = ImageWorkers(1, timeout_s=0.001, max_pixels=MAX_PIXELS)
    try:
        slow = await workers.process(encode(gradient(), "PNG"))
        assert isinstance(slow, Rejected)
        assert "took too long" in slow.reason
        workers.timeout_s = 60
        assert isinstance(await workers.process(encode(gradient((64, 64)), "PNG")), Processed)
    finally:
        await workers.close()
