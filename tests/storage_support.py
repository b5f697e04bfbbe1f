"""A real S3-compatible server on loopback for the storage tests: moto's standalone server (``moto[server]``) in its
own process, with authentication on, so wrong credentials are refused as by MinIO or AWS.

No MinIO server ships in the package registries this project installs from; moto's server speaks the S3 protocol
over HTTP, checks SigV4 signatures and keys once ``INITIAL_NO_AUTH_ACTION_COUNT`` requests have been made, and runs
as a plain process. The first requests (under that count) create the IAM user whose key the tests use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from botocore.config import Config

# requests made before authentication starts: create_user, put_user_policy, create_access_key
_SETUP_REQUESTS = 3
_ALLOW_ALL = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", '
              '"Resource": "*"}]}')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class S3Server:
    """Where the server listens and the key it accepts."""

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str = "us-east-1"

    def client(self, access_key_id: str | None = None, secret: str | None = None):  # type: ignore[no-untyped-def]
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint_url, region_name=self.region,
            aws_access_key_id=access_key_id or self.access_key_id,
            aws_secret_access_key=secret or self.secret_access_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def new_bucket(self) -> str:
        name = f"mayak-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def environ(self, bucket: str, **extra: str) -> dict[str, str]:
        """The settings of an app that keeps its files in ``bucket``."""
        return {"MAYAK_STORAGE": "s3", "MAYAK_S3_ENDPOINT_URL": self.endpoint_url, "MAYAK_S3_BUCKET": bucket,
                "MAYAK_S3_ACCESS_KEY_ID": self.access_key_id, "MAYAK_S3_SECRET_ACCESS_KEY": self.secret_access_key,
                "MAYAK_S3_REGION": self.region, **extra}


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the S3 server did not start listening in time")


def _make_user(endpoint_url: str) -> tuple[str, str]:
    iam = boto3.session.Session().client("iam", endpoint_url=endpoint_url, region_name="us-east-1",
                                         aws_access_key_id="setup", aws_secret_access_key="setup")
    iam.create_user(UserName="mayak")
    iam.put_user_policy(UserName="mayak", PolicyName="all", PolicyDocument=_ALLOW_ALL)
    key = iam.create_access_key(UserName="mayak")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port for the test session, refusing unknown keys."""
    port = free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(_SETUP_REQUESTS)}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port, process)
        endpoint = f"http://127.0.0.1:{port}"
        key_id, secret = _make_user(endpoint)
        yield S3Server(endpoint, key_id, secret)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
