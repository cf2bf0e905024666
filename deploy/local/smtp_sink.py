"""A local SMTP sink for `make run`: every message it receives is kept as an .eml file.

    python deploy/local/smtp_sink.py --dir .stack/run/mail --port 1025

Nothing is relayed anywhere. Files are named by arrival time and Message-ID, so a
repeated message (same Message-ID) is visible as such.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class EmlWriter:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        message_id = message_from_bytes(content).get("Message-ID", "")
        tag = re.sub(r"[^A-Za-z0-9]", "", message_id)[:40] or hashlib.sha256(content).hexdigest()[:16]
        name = f"{time.time_ns()}-{tag}.eml"
        (self.folder / name).write_bytes(content)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    args = parser.parse_args()
    controller = Controller(EmlWriter(args.dir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
