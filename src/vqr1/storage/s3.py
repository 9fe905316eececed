"""One boto3 S3 client for every storage user (artifact store, registry, server checks).

The same code talks to the embedded SeaweedFS, AWS S3, MinIO or R2: only the settings differ.
Settings come, in this order, from the environment (``VQR1_S3_ENDPOINT`` or ``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``), then params.yaml ``storage:``, then the env file
that ``vqr1 storage up`` writes for the embedded server. Credentials are never read from or written
to params.yaml, and never logged.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from boto3.exceptions import Boto3Error
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from dotenv import dotenv_values

from vqr1.config import StorageParams
from vqr1.errors import StorageError

ENV_FILE_NAME = "s3.env"
# Variables of the env file for the read-only identity (pull-request evaluation).
READONLY_KEY_VAR = "VQR1_S3_READONLY_ACCESS_KEY_ID"
READONLY_SECRET_VAR = "VQR1_S3_READONLY_SECRET_ACCESS_KEY"
# What managed transfers (upload_file/download_file) raise about the store: boto3 wraps a refused upload
# in S3UploadFailedError and exhausted download retries in RetriesExceededError, neither a ClientError.
TRANSFER_ERRORS = (ClientError, BotoCoreError, Boto3Error)


@dataclass(frozen=True)
class S3Settings:
    """Where the store is and who we are; ``repr`` hides the secret."""

    endpoint_url: str | None
    bucket: str
    access_key: str | None
    secret_key: str | None = field(repr=False)
    region: str = "us-east-1"

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    def describe(self) -> str:
        return f"{self.uri()} at {self.endpoint_url or 'AWS default endpoint'}"


def read_env_file(path: Path) -> dict[str, str]:
    """The KEY=VALUE pairs of a .env file (python-dotenv's syntax: comments, quotes, ``export``)."""
    values = dotenv_values(path, interpolate=False)
    bare = [key for key, value in values.items() if value is None]
    if bare:
        raise StorageError(f"{path}: {bare[0]!r} has no value; expected KEY=VALUE")
    return {key: value for key, value in values.items() if value is not None}


def default_storage_dir() -> Path:
    """The embedded server's folder: ``VQR1_STORAGE_DIR`` or ``.storage`` in the current folder."""
    return Path(os.environ.get("VQR1_STORAGE_DIR", ".storage")).resolve()


def external_endpoint(params: StorageParams, env: Mapping[str, str] | None = None) -> str | None:
    """The configured endpoint (environment, then params); None means the embedded SeaweedFS or AWS."""
    env = os.environ if env is None else env
    return env.get("VQR1_S3_ENDPOINT") or env.get("AWS_ENDPOINT_URL") or params.endpoint_url or None


def embedded(params: StorageParams, env: Mapping[str, str] | None = None) -> bool:
    """True when storage is the embedded SeaweedFS: no endpoint and no credentials configured."""
    env = os.environ if env is None else env
    return external_endpoint(params, env) is None and not env.get("AWS_ACCESS_KEY_ID")


def resolve(
    params: StorageParams,
    env: Mapping[str, str] | None = None,
    storage_dir: Path | None = None,
    readonly: bool = False,
) -> S3Settings:
    """Settings from the environment, params and the embedded server's env file (in that order).

    ``readonly`` picks the read-only identity of the env file (the environment still wins, so CI
    passes its read-only secrets as the plain AWS_* variables).
    """
    env = os.environ if env is None else env
    env_file = (storage_dir or default_storage_dir()) / ENV_FILE_NAME
    local = read_env_file(env_file) if env_file.is_file() else {}
    key_var, secret_var = (
        (READONLY_KEY_VAR, READONLY_SECRET_VAR)
        if readonly
        else ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    )
    endpoint = external_endpoint(params, env) or local.get("AWS_ENDPOINT_URL")
    if env.get("AWS_ACCESS_KEY_ID"):
        access, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    else:
        access, secret = local.get(key_var), local.get(secret_var)
    return S3Settings(
        endpoint_url=endpoint or None,
        bucket=env.get("VQR1_S3_BUCKET") or params.bucket,
        access_key=access,
        secret_key=secret,
        region=env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or "us-east-1",
    )


def client(settings: S3Settings, attempts: int = 3) -> BaseClient:
    """A boto3 S3 client: path-style addressing (works for SeaweedFS/MinIO), SigV4, bounded retries."""
    if not settings.access_key or not settings.secret_key:
        raise StorageError(
            f"no S3 credentials for {settings.describe()}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "or run `vqr1 storage up`"
        )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        region_name=settings.region,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"max_attempts": attempts, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def storage_error(action: str, settings: S3Settings, exc: Exception) -> StorageError:
    """A one-line StorageError naming the action, the store and S3's answer (never the secret)."""
    detail = f"{error_code(exc)}: {exc}" if isinstance(exc, ClientError) else str(exc)
    return StorageError(f"{action} on {settings.describe()} failed: {detail}")


def ensure_bucket(s3: BaseClient, settings: S3Settings) -> None:
    """Create the bucket unless it exists (idempotent)."""
    try:
        s3.head_bucket(Bucket=settings.bucket)
        return
    except ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise storage_error("head_bucket", settings, exc) from exc
    except BotoCoreError as exc:
        raise storage_error("head_bucket", settings, exc) from exc
    try:
        s3.create_bucket(Bucket=settings.bucket)
    except ClientError as exc:
        if error_code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise storage_error("create_bucket", settings, exc) from exc


def list_keys(s3: BaseClient, settings: S3Settings, prefix: str) -> Iterator[str]:
    """Every key under ``prefix`` (paginated)."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(f"list {prefix}", settings, exc) from exc


def get_bytes(s3: BaseClient, settings: S3Settings, key: str) -> bytes | None:
    """The object's bytes, or None when the key does not exist."""
    try:
        return s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
            return None
        raise storage_error(f"get {key}", settings, exc) from exc
    except BotoCoreError as exc:
        raise storage_error(f"get {key}", settings, exc) from exc


def put_bytes(s3: BaseClient, settings: S3Settings, key: str, data: bytes, content_type: str) -> None:
    """One PUT: S3 makes it visible all at once (readers see the old object or the new one)."""
    try:
        s3.put_object(Bucket=settings.bucket, Key=key, Body=data, ContentType=content_type)
    except (ClientError, BotoCoreError) as exc:
        raise storage_error(f"put {key}", settings, exc) from exc
