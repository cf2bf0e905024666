"""Blob storage behind one small interface: GridFS in the service's own database by default,
an S3-compatible object store (AWS S3, or any server speaking its API) as the production option.

Keys are ``<media id>/original`` (private: never served publicly) and
``<media id>/<variant>`` (public). ``SNAPFIX_STORAGE_BACKEND`` picks the store (app.py).

Both stores stream an upload (``put_stream``) without holding it whole: GridFS writes
255 KiB chunks as they come (one at a time); S3 collects one part (8 MiB by default) and sends it as a
multipart upload part, or one ``PutObject`` when the whole stream fits in a part. Both
serve byte ranges without reading the whole blob (``get_range``). A store that cannot be
reached raises ``StoreUnavailable`` (callers retry or answer 503); a missing key is
``None`` for reads and a no-op for deletes.
"""

from __future__ import annotations

from snapfix_media.storage.blobs import BlobStore, StoreUnavailable, TooLarge, original_key, variant_key
from snapfix_media.storage.repository import GridFsStore, GridFsUnavailable
from snapfix_media.storage.s3 import S3Store

# Transient failures of either store (GridFS's are pymongo's).
STORE_UNAVAILABLE = (StoreUnavailable, GridFsUnavailable)

__all__ = [
    "STORE_UNAVAILABLE",
    "BlobStore",
    "GridFsStore",
    "S3Store",
    "StoreUnavailable",
    "TooLarge",
    "original_key",
    "variant_key",
]
