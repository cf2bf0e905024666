"""The S3-compatible server of the test stack (S3Proxy, started by `stack.py up --profile test`).

Tests that need it fail loudly, naming what is missing, when it is not there; they never skip.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest

from snapfix_media.storage import S3Store
from tests.stack import _env_file_values

NAMES = ("ENDPOINT_URL", "BUCKET", "REGION", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str

    def store(self, *, prefix: str = "", part_bytes: int = 5 * 1024 * 1024) -> S3Store:
        return S3Store(
            bucket=self.bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            path_style=True,
            prefix=prefix,
            part_bytes=part_bytes,
        )

    def env(self) -> dict[str, str]:
        """The media service's settings for this server."""
        return {f"SNAPFIX_S3_{name}": getattr(self, name.lower()) for name in NAMES} | {"SNAPFIX_S3_PATH_STYLE": "true"}


def s3_server() -> S3Server:
    file_values = _env_file_values()
    values: dict[str, str] = {}
    for name in NAMES:
        key = f"SNAPFIX_S3_{name}"
        value = os.environ.get(key) or file_values.get(key)
        if not value:
            pytest.fail(
                f"{key} is not set: the stack has no S3 server (`stack.py up --profile test` starts one; "
                "other profiles take --s3)",
                pytrace=False,
            )
        values[name.lower()] = value
    server = S3Server(**values)
    url = urlparse(server.endpoint_url)
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex((url.hostname or "127.0.0.1", url.port or 80)) != 0:
            pytest.fail(f"the S3 server is not reachable at {server.endpoint_url}: the stack is down", pytrace=False)
    return server
