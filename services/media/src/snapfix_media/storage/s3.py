"""An S3-compatible object store (AWS S3, or any server speaking its API): the production option."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable
from typing import TYPE_CHECKING, Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from snapfix_media.storage.blobs import StoreUnavailable, TooLarge

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger(__name__)
MiB = 1024 * 1024
# S3's smallest part (all but the last part of a multipart upload must have at least this).
MIN_PART_BYTES = 5 * MiB


class S3Store:
    """An S3-compatible bucket through aiobotocore; keys live under ``prefix``.

    The client is opened by ``start()`` and closed by ``close()`` (the service's lifespan).
    Every call is bounded by the client's connect and read timeouts, and botocore's
    "standard" retry mode retries throttling, 5xx answers and connection errors with
    exponential backoff and jitter before ``StoreUnavailable`` is raised.
    """

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        path_style: bool = False,
        prefix: str = "",
        part_bytes: int = 8 * MiB,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 20.0,
        max_attempts: int = 4,
        max_connections: int = 20,
    ) -> None:
        if part_bytes < MIN_PART_BYTES:
            raise ValueError(f"S3 multipart parts must have at least {MIN_PART_BYTES} bytes")
        self.bucket, self.prefix, self.part_bytes = bucket, prefix, part_bytes
        self._client_args: dict[str, Any] = {
            "region_name": region,
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "config": AioConfig(
                connect_timeout=connect_timeout_s,
                read_timeout=read_timeout_s,
                retries={"max_attempts": max_attempts, "mode": "standard"},
                max_pool_connections=max_connections,
                s3={"addressing_style": "path" if path_style else "auto"},
                # Checksums only where S3 requires them: S3-compatible servers differ in the
                # flexible-checksum headers they understand; TLS and MD5-less parts suffice here.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        }
        self._stack = contextlib.AsyncExitStack()
        self._client: S3Client | None = None
        self._opening = asyncio.Lock()

    async def client(self) -> S3Client:
        """The client, opened on first use (consumers may start before the app's start-up hooks)."""
        if self._client is None:
            async with self._opening:
                if self._client is None:
                    self._client = await self._stack.enter_async_context(
                        get_session().create_client("s3", **self._client_args)
                    )
        return self._client

    async def close(self) -> None:
        self._client = None
        await self._stack.aclose()

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (for local stacks; deployments provision it)."""
        s3 = await self.client()
        with _unavailable():
            try:
                await s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if _code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
                    raise
                await s3.create_bucket(Bucket=self.bucket)

    async def put_stream(self, key: str, chunks: AsyncIterable[bytes], *, max_bytes: int, content_type: str) -> int:
        pending: list[bytes] = []  # the chunks of the part being filled: at most one part is held
        pending_bytes = size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        s3 = await self.client()
        try:
            with _unavailable():
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"more than {max_bytes} bytes")
                    pending.append(chunk)
                    pending_bytes += len(chunk)
                    if pending_bytes < self.part_bytes:
                        continue
                    if upload_id is None:
                        started = await s3.create_multipart_upload(
                            Bucket=self.bucket, Key=self._key(key), ContentType=content_type
                        )
                        upload_id = started["UploadId"]
                    # Parts need not be equal: each is what filled up (at least part_bytes, above S3's 5 MiB).
                    part = b"".join(pending)
                    pending.clear()
                    pending_bytes = 0
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, part))
                    del part
                if upload_id is None:  # it all fitted in one part: a single PutObject
                    await self.put(key, b"".join(pending), content_type=content_type)
                    return size
                if pending:
                    parts.append(await self._upload_part(key, upload_id, len(parts) + 1, b"".join(pending)))
                await s3.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
                )
        except BaseException:
            if upload_id is not None:  # nothing half-written stays behind (nor is billed)
                await self._abort(key, upload_id)
            raise
        return size

    async def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        s3 = await self.client()
        answer = await s3.upload_part(
            Bucket=self.bucket, Key=self._key(key), UploadId=upload_id, PartNumber=number, Body=data
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def _abort(self, key: str, upload_id: str) -> None:
        s3 = await self.client()
        try:
            await s3.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload_id)
        except (BotoCoreError, ClientError) as exc:  # a bucket lifecycle rule cleans up what this misses
            log.warning("could not abort the multipart upload of %s: %s", key, exc)

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        s3 = await self.client()
        with _unavailable():
            await s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    async def get(self, key: str) -> bytes | None:
        return await self._read(key, None)

    async def get_range(self, key: str, start: int, end: int) -> bytes | None:
        return await self._read(key, f"bytes={start}-{end}")

    async def _read(self, key: str, byte_range: str | None) -> bytes | None:
        s3 = await self.client()
        with _unavailable():
            try:
                key_ = self._key(key)
                answer = await (
                    s3.get_object(Bucket=self.bucket, Key=key_, Range=byte_range)
                    if byte_range
                    else s3.get_object(Bucket=self.bucket, Key=key_)
                )
            except ClientError as exc:
                if _code(exc) in {"NoSuchKey", "404"}:
                    return None
                raise
            async with answer["Body"] as body:
                return await body.read()

    async def delete(self, key: str) -> None:
        s3 = await self.client()
        with _unavailable():  # deleting a missing key succeeds in S3
            await s3.delete_object(Bucket=self.bucket, Key=self._key(key))


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _unavailable() -> Any:
    """Connection errors, timeouts and server-side (5xx, throttling) answers become StoreUnavailable."""
    try:
        yield
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        if status >= 500 or _code(exc) in {"SlowDown", "RequestTimeout", "Throttling"}:
            raise StoreUnavailable(f"S3 answered {status} {_code(exc)}") from exc
        raise
    except ParamValidationError:  # a bug on our side, not the store's
        raise
    except BotoCoreError as exc:  # no connection, timed out, connection closed mid-answer
        raise StoreUnavailable(f"S3 is unreachable: {exc}") from exc
