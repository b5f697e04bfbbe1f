"""Settings read from the environment (``MAYAK_*``), with the embedded defaults.

Everything the app needs to know at start-up comes through :class:`Settings`; a wrong value stops start-up with
a :class:`~core.errors.StartupError` naming the variable and what it should look like.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel import Locale, UnknownLocaleError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.errors import StartupError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


STORAGE_KINDS = ("local", "s3")


@dataclass(frozen=True)
class S3Settings:
    """An S3-compatible bucket (AWS, MinIO, Ceph, ...): ``MAYAK_S3_*``. No key means boto3's own chain (an
    instance role on AWS); the secret is never shown in a repr or a message."""

    bucket: str
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    region: str = "us-east-1"
    prefix: str = ""  # kept before every key: "mayak/" puts files/ab/... at mayak/files/ab/...
    addressing: str = "path"  # path (MinIO and most self-hosted servers) or virtual (bucket.host)


@dataclass(frozen=True)
class StorageSettings:
    """Where uploaded files, import files and export results are kept: ``MAYAK_STORAGE`` names the backend in use;
    ``s3`` is read whenever a bucket is given, so ``mayak files move`` can copy between the two."""

    kind: str = "local"
    s3: S3Settings | None = None
    presigned_downloads: bool = False  # MAYAK_S3_PRESIGNED_DOWNLOADS: S3 downloads redirect to a short-lived URL


@dataclass(frozen=True)
class Settings:
    """The deploy-time configuration of one Mayak installation."""

    instance_path: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    plugins_file: Path
    theme: str
    default_locale: str | None  # None until create_app fills in the country rules' (see core.i18n)
    default_timezone: str | None
    default_phone_region: str | None
    behind_tls: bool
    upload_max_mb: int = 100
    import_keep_days: int = 30
    fetch_allow: tuple[str, ...] = ()  # MAYAK_FETCH_ALLOW: non-public hosts/networks Mayak may fetch from
    # MAYAK_SETTINGS_KEYS: Fernet keys for secret plugin settings; the first encrypts, all decrypt (rotation)
    settings_keys: tuple[str, ...] = ()
    storage: StorageSettings = field(default_factory=StorageSettings)
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def embedded_jobs(self) -> bool:
        """Jobs run in a thread of this process when no Redis is configured."""
        return not self.redis_url


def _env(environ: dict[str, str], name: str, default: str | None = None) -> str | None:
    value = environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def _secret_key(environ: dict[str, str], instance_path: Path) -> str:
    key = _env(environ, "MAYAK_SECRET_KEY")
    if key:
        if len(key) < 16:
            raise StartupError("MAYAK_SECRET_KEY is too short: use at least 16 random characters")
        return key
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _settings_keys(environ: dict[str, str], instance_path: Path) -> tuple[str, ...]:
    """The keys that encrypt secret plugin settings: ``MAYAK_SETTINGS_KEYS`` (comma-separated), else a key kept in
    ``instance/settings_key``, made on first start like the secret key, so the embedded install needs no setup."""
    from cryptography.fernet import Fernet

    raw = _env(environ, "MAYAK_SETTINGS_KEYS")
    if raw is None:
        key_file = instance_path / "settings_key"
        if key_file.exists():
            raw = key_file.read_text().strip()
        else:
            raw = Fernet.generate_key().decode()
            key_file.write_text(raw)
            key_file.chmod(0o600)
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for number, key in enumerate(keys, 1):
        try:
            Fernet(key)
        except (ValueError, TypeError) as exc:
            raise StartupError(
                f"MAYAK_SETTINGS_KEYS: key {number} is not a Fernet key (44 characters of URL-safe base64); "
                "make one with `mayak settings new-key`"
            ) from exc
    if not keys:
        raise StartupError("MAYAK_SETTINGS_KEYS holds no key: give one or more keys separated by commas")
    return keys


def _flag(environ: dict[str, str], name: str) -> bool:
    return (_env(environ, name, "0") or "0").lower() in ("1", "true", "yes")


def _s3_settings(env: dict[str, str], required: bool) -> S3Settings | None:
    bucket = _env(env, "MAYAK_S3_BUCKET")
    if bucket is None:
        if required:
            raise StartupError("MAYAK_S3_BUCKET is not set: MAYAK_STORAGE=s3 needs the name of the bucket")
        return None
    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
        raise StartupError(f"MAYAK_S3_BUCKET {bucket!r} is not a bucket name: 3-63 lower-case letters, digits, "
                           "dots and hyphens")
    endpoint = _env(env, "MAYAK_S3_ENDPOINT_URL")
    if endpoint is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", endpoint):
        raise StartupError(f"MAYAK_S3_ENDPOINT_URL {endpoint!r} is not a URL: use https://s3.example.com or "
                           "http://127.0.0.1:9000 (unset for AWS)")
    key_id = _env(env, "MAYAK_S3_ACCESS_KEY_ID")
    secret = _env(env, "MAYAK_S3_SECRET_ACCESS_KEY")
    if (key_id is None) != (secret is None):
        missing = "MAYAK_S3_SECRET_ACCESS_KEY" if secret is None else "MAYAK_S3_ACCESS_KEY_ID"
        raise StartupError(f"{missing} is not set: give both MAYAK_S3_ACCESS_KEY_ID and MAYAK_S3_SECRET_ACCESS_KEY "
                           "(or neither, for an AWS instance role)")
    region = _env(env, "MAYAK_S3_REGION", "us-east-1") or "us-east-1"
    if not re.fullmatch(r"[a-z0-9-]{2,32}", region):
        raise StartupError(f"MAYAK_S3_REGION {region!r} is not a region: use a name such as us-east-1")
    prefix = (_env(env, "MAYAK_S3_PREFIX", "") or "").strip("/")
    if prefix and (any(part in ("", ".", "..") for part in prefix.split("/"))
                   or any(ord(ch) < 32 or ord(ch) == 127 for ch in prefix)):
        raise StartupError(f"MAYAK_S3_PREFIX {prefix!r} is not a key prefix: use plain names such as mayak or "
                           "crm/files")
    addressing = (_env(env, "MAYAK_S3_ADDRESSING", "path") or "path").lower()
    if addressing not in ("path", "virtual"):
        raise StartupError(f"MAYAK_S3_ADDRESSING {addressing!r} is not known: use path or virtual")
    return S3Settings(bucket=bucket, endpoint_url=endpoint, access_key_id=key_id, secret_access_key=secret,
                      region=region, prefix=f"{prefix}/" if prefix else "", addressing=addressing)


def storage_settings(env: dict[str, str]) -> StorageSettings:
    """``MAYAK_STORAGE`` and the S3 settings it needs (read, not checked against the server: see
    :func:`core.services.platform.storage.check`)."""
    kind = (_env(env, "MAYAK_STORAGE", "local") or "local").lower()
    if kind not in STORAGE_KINDS:
        raise StartupError(f"MAYAK_STORAGE {kind!r} is not known: use local (the instance folder) or s3")
    return StorageSettings(kind=kind, s3=_s3_settings(env, required=kind == "s3"),
                           presigned_downloads=_flag(env, "MAYAK_S3_PRESIGNED_DOWNLOADS"))


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read and validate the settings; raise :class:`StartupError` with one line on the first bad value."""
    env = dict(os.environ if environ is None else environ)
    instance_path = Path(_env(env, "MAYAK_INSTANCE_PATH", str(PROJECT_ROOT / "instance"))).resolve()
    try:
        instance_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"MAYAK_INSTANCE_PATH {instance_path} cannot be created: {exc.strerror}") from exc

    database_url = _env(env, "MAYAK_DATABASE_URL", f"sqlite:///{instance_path / 'mayak.db'}")
    try:
        url = make_url(database_url)
    except ArgumentError as exc:
        raise StartupError(
            "MAYAK_DATABASE_URL is not a database URL: use sqlite:///path/to/mayak.db or "
            "postgresql+psycopg://user:password@host/dbname"
        ) from exc
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StartupError(
            f"MAYAK_DATABASE_URL uses {url.get_backend_name()!r}: Mayak supports sqlite and postgresql"
        )
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        database_url = url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)

    redis_url = _env(env, "REDIS_URL")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise StartupError("REDIS_URL must start with redis://, rediss:// or unix:// (or be unset for in-process jobs)")

    plugins_file = Path(_env(env, "MAYAK_PLUGINS_FILE", str(PROJECT_ROOT / "plugins.toml")))
    if not plugins_file.is_absolute():
        plugins_file = (Path.cwd() / plugins_file).resolve()

    # unset: the country rules of the enabled plugins decide (l10n_ru: ru and Europe/Moscow), else en and UTC
    locale = _env(env, "MAYAK_LOCALE")
    if locale is not None:
        try:
            Locale.parse(locale)
        except (UnknownLocaleError, ValueError) as exc:
            raise StartupError(f"MAYAK_LOCALE {locale!r} is not a locale: use a code such as en or ru") from exc

    tz = _env(env, "MAYAK_TIMEZONE")
    if tz is not None:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise StartupError(f"MAYAK_TIMEZONE {tz!r} is not a time zone: use a name such as Europe/Moscow") from exc

    region = _env(env, "MAYAK_PHONE_REGION")
    if region is not None:
        region = region.upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise StartupError(f"MAYAK_PHONE_REGION {region!r} is not a region: use a code such as RU or US")

    upload_max = _env(env, "MAYAK_UPLOAD_MAX_MB", "100") or "100"
    if not upload_max.isdigit() or not 1 <= int(upload_max) <= 10_000:
        raise StartupError(f"MAYAK_UPLOAD_MAX_MB {upload_max!r} is not a size: give megabytes, such as 100")

    keep_days = _env(env, "MAYAK_IMPORT_KEEP_DAYS", "30") or "30"
    if not keep_days.isdigit() or not 1 <= int(keep_days) <= 3650:
        raise StartupError(f"MAYAK_IMPORT_KEEP_DAYS {keep_days!r} is not a number of days: give one, such as 30")

    fetch_allow = _env(env, "MAYAK_FETCH_ALLOW", "") or ""
    try:
        from core.net import AllowList

        AllowList.parse(fetch_allow)
    except ValueError as exc:
        raise StartupError(f"MAYAK_FETCH_ALLOW: {exc}; list host names and networks separated by commas") from exc

    storage = storage_settings(env)

    return Settings(
        storage=storage,
        fetch_allow=tuple(e.strip() for e in fetch_allow.split(",") if e.strip()),
        upload_max_mb=int(upload_max),
        import_keep_days=int(keep_days),
        instance_path=instance_path,
        database_url=database_url,
        redis_url=redis_url,
        secret_key=_secret_key(env, instance_path),
        settings_keys=_settings_keys(env, instance_path),
        plugins_file=plugins_file,
        theme=_env(env, "MAYAK_THEME", "default"),
        default_locale=locale,
        default_timezone=tz,
        default_phone_region=region,
        behind_tls=_env(env, "MAYAK_BEHIND_TLS", "0").lower() in ("1", "true", "yes"),
    )
