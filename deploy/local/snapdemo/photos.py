"""The photos some reports carry: drawn with Pillow, the same picture on every run."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter

from .plan import PlannedReport

_PALETTES = {
    "pothole": ((96, 96, 100), (40, 36, 34)),
    "garbage": ((150, 130, 100), (60, 120, 60)),
    "streetlight": ((20, 24, 48), (250, 220, 120)),
    "blocked_drain": ((90, 80, 60), (60, 70, 90)),
    "water_leak": ((110, 110, 110), (90, 150, 220)),
    "sewage_overflow": ((100, 95, 80), (80, 70, 40)),
    "tree": ((120, 170, 230), (40, 110, 40)),
}


def draw_photo(report: PlannedReport) -> bytes:
    """A JPEG that looks like a phone photo of the problem from afar: ground, sky, the thing itself, noise."""
    rng = random.Random(f"photo-{report.index}")  # noqa: S311 - reproducible pictures
    ground, thing = _PALETTES.get(report.category, ((130, 120, 110), (200, 60, 40)))
    width, height = 640, 480
    image = Image.new("RGB", (width, height), ground)
    draw = ImageDraw.Draw(image)
    horizon = rng.randint(160, 260)
    haze = rng.randint(0, 40)
    draw.rectangle((0, 0, width, horizon), fill=(120 + haze, 170 + haze // 2, 225))
    for _ in range(rng.randint(2, 5)):  # buildings on the skyline
        x = rng.randint(0, width - 120)
        draw.rectangle((x, horizon - rng.randint(40, 140), x + rng.randint(60, 160), horizon), fill=(170, 150, 130))
    cx, cy = rng.randint(250, 550), rng.randint(horizon + 120, height - 100)
    for scale in (1.0, 0.7, 0.45):
        rx, ry = int(rng.randint(120, 190) * scale), int(rng.randint(50, 90) * scale)
        shade = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in thing)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=shade)
    draw.text((16, height - 28), f"{report.ward} - {report.reported_at:%d %b %Y}", fill=(255, 255, 255))
    grain = rng.randbytes(width * height // 4)  # seeded: the same picture on every run
    noise = Image.frombytes("L", (width // 2, height // 2), grain).convert("RGB").resize((width, height))
    image = Image.blend(image, noise, 0.08).filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
