"""`make chaos`'s settings (the CHAOS_* environment) and its fixed figures; its log line."""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FAULTS = ("broker", "issues", "media", "notify", "analytics", "redis", "store", "gateway")
CONSUMERS = ("issues", "media", "notify", "analytics")
PASSWORD = "violet-harbour-71-lantern"
CITIZENS = int(os.environ.get("CHAOS_CITIZENS", "8"))
CALM_S = float(os.environ.get("CHAOS_CALM_S", "15"))  # steady load before the first fault and after each
SETTLE_S = float(os.environ.get("CHAOS_SETTLE_S", "10"))  # after a recovery, still inside the fault window
PAUSE_S = float(os.environ.get("CHAOS_PAUSE_S", "30"))  # the Mongo-wire server's SIGSTOP
DOWN_S = 10.0  # a killed broker or gateway stays down this long
DRAIN_S = 300.0  # consumers catching up and mail arriving, at most
AVAILABILITY_TARGET = 0.999
# Categories and the departments that own them (the catalogue's), and their staff's moves.
CATEGORIES = {"pothole": "roads", "sidewalk": "roads", "streetlight": "lighting"}
SUBJECTS = {
    "report_received": "We received your report: {title}",
    "acknowledged": "Your report was acknowledged: {title}",
    "in_progress": "Your report is in progress: {title}",
    "resolved": "Resolved: {title} (is it fixed?)",
    "comment_added": "New comment on your report: {title}",
}
MEASURES = ("reported", "acknowledged", "in_progress", "resolved")


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)
