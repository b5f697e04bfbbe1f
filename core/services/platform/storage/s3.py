"""Files in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...) through boto3.

Uploads are single PUTs or multipart uploads (``upload_fileobj``): an object appears whole or not at all. Reads
stream the body; nothing is read into memory whole. The client is made once per process and shared by threads
(boto3 clients are thread-safe; sessions are not, so each backend makes its own session).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

from core.config import S3Settings
from core.errors import StartupError
from core.services.platform.storage.base import ObjectMissing, validate_key

PRESIGNED_SECONDS = 60
_MISSING = {"404", "NoSuchKey", "NotFound"}


class _Counting:
    """A read-only stream that counts what was read through it (``upload_fileobj`` does not say)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.size = 0

    def read(self, amount: int = -1) -> bytes:
        data = self.stream.read(amount)
        self.size += len(data)
        return data


def make_client(settings: S3Settings, *, connect_timeout: float = 5, read_timeout: float = 60,
                attempts: int = 3) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout, signature_version="s3v4",
                    retries={"max_attempts": attempts, "mode": "standard"},
                    s3={"addressing_style": settings.addressing})
    return boto3.session.Session().client(
        "s3", endpoint_url=settings.endpoint_url, region_name=settings.region,
        aws_access_key_id=settings.access_key_id, aws_secret_access_key=settings.secret_access_key, config=config)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class S3Storage:
    """Keys are object names under ``settings.prefix`` in ``settings.bucket``."""

    name = "s3"

    def __init__(self, settings: S3Settings, client: Any = None) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.client = client or make_client(settings)

    def _name(self, key: str) -> str:
        return self.settings.prefix + validate_key(key)

    def write(self, key: str, stream: IO[bytes]) -> int:
        counting = _Counting(stream)
        self.client.upload_fileobj(counting, self.bucket, self._name(key))
        return counting.size

    @contextlib.contextmanager
    def staging(self, key: str) -> Iterator[Path]:
        name = self._name(key)
        handle, temp = tempfile.mkstemp(prefix="mayak-", suffix=PurePosixPath(key).suffix[:16])
        os.close(handle)
        try:
            yield Path(temp)
            self.client.upload_file(temp, self.bucket, name)
        finally:
            Path(temp).unlink(missing_ok=True)

    def open(self, key: str) -> IO[bytes]:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]  # type: ignore[no-any-return]
        except ClientError as exc:
            if _code(exc) in _MISSING:
                raise ObjectMissing(key) from exc
            raise

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=self._name(key))["ContentLength"])
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def keys(self, prefix: str) -> Iterator[tuple[str, int]]:
        folder = validate_key(prefix, prefix=True) + "/"
        strip = len(self.settings.prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                      Prefix=self.settings.prefix + folder)
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"][strip:], int(item["Size"])

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        from botocore.exceptions import ClientError

        handle, temp = tempfile.mkstemp(prefix="mayak-", suffix=PurePosixPath(key).suffix[:16])
        os.close(handle)
        try:
            try:
                self.client.download_file(self.bucket, self._name(key), temp)
            except ClientError as exc:
                if _code(exc) in _MISSING:
                    raise ObjectMissing(key) from exc
                raise
            yield Path(temp)
        finally:
            Path(temp).unlink(missing_ok=True)

    def download_url(self, key: str, *, disposition: str, content_type: str) -> str | None:
        return str(self.client.generate_presigned_url(
            "get_object", ExpiresIn=PRESIGNED_SECONDS,
            Params={"Bucket": self.bucket, "Key": self._name(key), "ResponseContentDisposition": disposition,
                    "ResponseContentType": content_type}))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.settings.prefix}"


def check(settings: S3Settings, *, timeout: float = 5) -> None:
    """Stop start-up with one line naming the setting to fix when the bucket cannot be used: the endpoint does not
    answer, the key is refused, or the bucket does not exist. One attempt, short timeouts: a wrong address must
    not hold start-up for minutes."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        ReadTimeoutError,
        SSLError,
    )

    client = make_client(settings, connect_timeout=timeout, read_timeout=timeout, attempts=1)
    where = settings.endpoint_url or f"AWS S3 ({settings.region})"
    try:
        client.head_bucket(Bucket=settings.bucket)
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError, SSLError) as exc:
        raise StartupError(f"the S3 endpoint {where} is unreachable ({exc}); start it or fix "
                           "MAYAK_S3_ENDPOINT_URL") from exc
    except NoCredentialsError as exc:
        raise StartupError("no S3 credentials were found: set MAYAK_S3_ACCESS_KEY_ID and "
                           "MAYAK_S3_SECRET_ACCESS_KEY") from exc
    except ClientError as exc:
        code = _code(exc)
        if code in ("403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StartupError(f"{where} refused the S3 key for bucket {settings.bucket!r} ({code}); fix "
                               "MAYAK_S3_ACCESS_KEY_ID and MAYAK_S3_SECRET_ACCESS_KEY") from exc
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise StartupError(f"the S3 bucket {settings.bucket!r} does not exist at {where}; create it or fix "
                               "MAYAK_S3_BUCKET") from exc
        if code in ("301", "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"):
            raise StartupError(f"the S3 bucket {settings.bucket!r} is in another region ({code}); fix "
                               "MAYAK_S3_REGION") from exc
        raise StartupError(f"the S3 bucket {settings.bucket!r} at {where} cannot be used ({code or exc}); check "
                           "the MAYAK_S3_* settings") from exc
    except BotoCoreError as exc:
        raise StartupError(f"the S3 bucket {settings.bucket!r} at {where} cannot be used ({exc}); check the "
                           "MAYAK_S3_* settings") from exc
