"""The image pipeline on a 12-megapixel JPEG, against the previous pipeline measured in the same run.

No stack needed: each pipeline is measured in its own fresh worker process (one core), as the
media service runs it, the two taking turns so that both see the same load on the shared machine.
- Rate: images per second per core from the worker's CPU time (``time.process_time``), which
  the other work on the machine inflates far less than it does wall time (reported next to it).
- Peak memory: the worker's resident-set high-water mark (``VmHWM``, reset just before;
  ``getrusage`` where that is not possible) above its resident set after a warm-up on a small
  image; it includes what Pillow's and the codecs' C code allocates, which tracemalloc cannot see.
- Quality: SSIM (scikit-image) of the large variant against the previous pipeline's, per format
  (the target). For scale, the SSIM of the previous pipeline's own WebP against its own JPEG
  (the same pixels, two codecs) says how much codec noise alone moves the figure on this
  deliberately noisy image; and each pipeline's large variants are compared with the same
  reference, the pixels the previous pipeline encoded (full-size decode, turned upright, Lanczos
  to 2048 px, never encoded): the codec's loss, which should not grow.
The previous pipeline is the module as of ``PREVIOUS_PIPELINE_REV``, read with ``git show``.
Results: bench/results/media.json (and a section of latest.md via ``bench.run report``).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import time
import types
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
SIZE = (4000, 3000)  # 12 MP, a phone's main camera
MAX_PIXELS = 50_000_000
# The last commit of the pipeline that decoded at full size (issue 13 replaced it).
PREVIOUS_PIPELINE_REV = "ddd3c75e3e76ff9a4d69c97414627fac29b7470f"
PIPELINE_PATH = "services/media/src/snapfix_media/pipeline.py"
TARGET_IMAGES_PER_S_PER_CORE = 2.0
TARGET_PEAK_MIB = 60.0
TARGET_SSIM = 0.95


def photo_12mp() -> bytes:
    """Noise over gradients and shapes: compresses and decodes like a real photo, not a flat test card."""
    noise = Image.effect_noise(SIZE, 40)
    horizontal = Image.linear_gradient("L").rotate(90).resize(SIZE)
    vertical = Image.linear_gradient("L").resize(SIZE)
    image = Image.merge("RGB", (Image.blend(horizontal, noise, 0.3), Image.blend(vertical, noise, 0.3), noise))
    draw = ImageDraw.Draw(image)
    for i in range(40):
        draw.ellipse((i * 90, i * 60, i * 90 + 600, i * 60 + 400), outline=(255, 255 - i * 5, i * 5), width=12)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss() -> int:
    """Reset the resident-set high-water mark (Linux: clear_refs 5); return the current resident set (KiB)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_rss() -> int:
    try:
        return _status_kib("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def previous_pipeline_source() -> str:
    return subprocess.run(
        ["git", "show", f"{PREVIOUS_PIPELINE_REV}:{PIPELINE_PATH}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


def _pipeline(source: str | None) -> types.ModuleType:
    """This checkout's pipeline, or the previous one built from its source text."""
    if source is None:
        from snapfix_media import pipeline

        return pipeline
    module = types.ModuleType("previous_pipeline")
    sys.modules[module.__name__] = module  # dataclasses look their module up while being built
    exec(compile(source, f"{PREVIOUS_PIPELINE_REV[:7]}:{PIPELINE_PATH}", "exec"), module.__dict__)
    return module


def _measure(source: str | None, data: bytes, rounds: int) -> dict[str, Any]:
    """In a fresh worker: one image for the memory high-water mark, then ``rounds`` images timed."""
    pipeline = _pipeline(source)
    small = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(small, "JPEG")
    pipeline.process(small.getvalue(), max_pixels=MAX_PIXELS)  # imports and first-use set-up out of the figures
    before_kib = _reset_peak_rss()
    result = pipeline.process(data, max_pixels=MAX_PIXELS)
    assert type(result).__name__ == "Processed", result
    peak_kib = _peak_rss() - before_kib
    cpu_started, wall_started = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        pipeline.process(data, max_pixels=MAX_PIXELS)
    return {
        "cpu_s": time.process_time() - cpu_started,
        "wall_s": time.perf_counter() - wall_started,
        "peak_kib": peak_kib,
        "variants": {v.name: v.data for v in result.variants},
    }


def _summary(runs: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    images = rounds * len(runs)
    cpu_s, wall_s = sum(r["cpu_s"] for r in runs), sum(r["wall_s"] for r in runs)
    return {
        "images": images,
        "cpu_seconds_per_image": round(cpu_s / images, 3),
        "images_per_s_per_core": round(images / cpu_s, 2),
        "wall_seconds_per_image": round(wall_s / images, 3),
        "wall_images_per_s": round(images / wall_s, 2),
        "peak_memory_mib_per_image": round(max(r["peak_kib"] for r in runs) / 1024, 1),
        "variants_bytes": {name: len(blob) for name, blob in runs[0]["variants"].items()},
    }


def ssim(a: bytes, b: bytes) -> float:
    """SSIM of two encoded images of one size, on 8-bit RGB, scikit-image's default 7x7 window."""
    import numpy as np
    from skimage.metrics import structural_similarity

    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"))
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"))
    assert x.shape == y.shape, (x.shape, y.shape)
    return round(float(structural_similarity(x, y, channel_axis=2, data_range=255)), 4)


def reference_large(data: bytes) -> bytes:
    """The previous pipeline's large picture before encoding (its steps, as in
    tests/unit/test_media_quality.py), stored losslessly."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as original:
        original.load()
        upright = ImageOps.exif_transpose(original).convert("RGB")
    upright.thumbnail((2048, 2048), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    upright.save(out, "PNG", compress_level=1)
    return out.getvalue()


def main() -> None:
    rounds = int(os.environ.get("BENCH_MEDIA_ROUNDS", "5"))
    passes = int(os.environ.get("BENCH_MEDIA_PASSES", "2"))
    data = photo_12mp()
    previous_source = previous_pipeline_source()
    print(
        f"[bench] media pipeline: {SIZE[0]}x{SIZE[1]} JPEG ({len(data) // 1024} KiB), this pipeline and the "
        f"previous one ({PREVIOUS_PIPELINE_REV[:7]}), {passes} x {rounds} images each, taking turns ...",
        flush=True,
    )
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {"current": [], "previous": []}
    spawn = multiprocessing.get_context("spawn")
    for _ in range(passes):
        for name, source in (("previous", previous_source), ("current", None)):
            with ProcessPoolExecutor(1, mp_context=spawn) as pool:  # a fresh worker: its own peak
                runs[name].append(pool.submit(_measure, source, data, rounds).result())
    load_after = os.getloadavg()
    current, previous = _summary(runs["current"], rounds), _summary(runs["previous"], rounds)
    mine, theirs = runs["current"][0]["variants"], runs["previous"][0]["variants"]
    quality = {
        "ssim_large_jpg_vs_previous": ssim(mine["large.jpg"], theirs["large.jpg"]),
        "ssim_large_webp_vs_previous": ssim(mine["large.webp"], theirs["large.webp"]),
        "ssim_medium_jpg_vs_previous": ssim(mine["medium.jpg"], theirs["medium.jpg"]),
        "ssim_previous_large_webp_vs_its_jpg": ssim(theirs["large.webp"], theirs["large.jpg"]),
    }
    reference = reference_large(data)
    versus_reference = {
        pipeline: {name: ssim(variants[name], reference) for name in ("large.jpg", "large.webp")}
        for pipeline, variants in (("current", mine), ("previous", theirs))
    }
    result = {
        "image": f"{SIZE[0]}x{SIZE[1]} JPEG",
        "image_bytes": len(data),
        "images_per_s_per_core": current["images_per_s_per_core"],
        "peak_memory_mib_per_image": current["peak_memory_mib_per_image"],
        "current": current,
        "baseline_previous_pipeline": {"rev": PREVIOUS_PIPELINE_REV, **previous},
        "speedup_cpu": round(previous["cpu_seconds_per_image"] / current["cpu_seconds_per_image"], 2),
        **quality,
        "ssim_large_vs_reference_pixels": versus_reference,
        "targets": {
            "images_per_s_per_core": TARGET_IMAGES_PER_S_PER_CORE,
            "peak_memory_mib_per_image": TARGET_PEAK_MIB,
            "ssim_large": TARGET_SSIM,
            "met": {
                "rate": current["images_per_s_per_core"] >= TARGET_IMAGES_PER_S_PER_CORE,
                "memory": current["peak_memory_mib_per_image"] <= TARGET_PEAK_MIB,
                "ssim_large_jpg": quality["ssim_large_jpg_vs_previous"] >= TARGET_SSIM,
                "ssim_large_webp": quality["ssim_large_webp_vs_previous"] >= TARGET_SSIM,
            },
        },
        "machine_load": {
            "cores": os.cpu_count(),
            "loadavg_1m_before": round(load_before[0], 2),
            "loadavg_1m_after": round(load_after[0], 2),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "media.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
