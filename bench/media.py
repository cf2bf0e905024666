"""The image pipeline on a 12-megapixel JPEG: images per second per core, and peak memory per image.

No stack needed: the pipeline is measured in one worker process (one core), as the
media service runs it. Peak memory is the worker's resident-set high-water mark
(``VmHWM``, reset just before; ``getrusage`` where that is not possible) above its
resident set after a warm-up on a small image; it includes what
Pillow's C code allocates, which tracemalloc cannot see.
Results: bench/results/media.json (and a section of latest.md via ``bench.run report``).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

RESULTS = Path(__file__).resolve().parent / "results"
SIZE = (4000, 3000)  # 12 MP, a phone's main camera


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


def _measure(data: bytes, rounds: int) -> dict[str, Any]:
    from snapfix_media.pipeline import Processed, process

    small = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(small, "JPEG")
    process(small.getvalue(), max_pixels=50_000_000)  # imports and first-use set-up out of the figures
    before_kib = _reset_peak_rss()
    result = process(data, max_pixels=50_000_000)
    assert isinstance(result, Processed), result
    peak_kib = _peak_rss() - before_kib
    started = time.perf_counter()
    for _ in range(rounds):
        process(data, max_pixels=50_000_000)
    elapsed = time.perf_counter() - started
    return {
        "rounds": rounds,
        "seconds_per_image": round(elapsed / rounds, 3),
        "images_per_s_per_core": round(rounds / elapsed, 2),
        "peak_memory_mib_per_image": round(peak_kib / 1024, 1),
        "variants_bytes": {v.name: len(v.data) for v in result.variants},
    }


def main() -> None:
    rounds = int(os.environ.get("BENCH_MEDIA_ROUNDS", "5"))
    data = photo_12mp()
    print(
        f"[bench] media pipeline: {SIZE[0]}x{SIZE[1]} JPEG ({len(data) // 1024} KiB), {rounds} rounds ...", flush=True
    )
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        result = pool.submit(_measure, data, rounds).result()
    result |= {"image": f"{SIZE[0]}x{SIZE[1]} JPEG", "image_bytes": len(data)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "media.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
