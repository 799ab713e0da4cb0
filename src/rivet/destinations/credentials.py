"""Which credentials a destination would use, found without a request to the store: what
`rivet check` reports, so that a config with no credentials fails the check rather than the
run (rivet-cli 0.7.7 checks this too)."""

from __future__ import annotations

import os
from pathlib import Path

from rivet.core.errors import DestinationError, MissingExtra
from rivet.destinations.targets import GcsTarget, S3Target, Target


def credentials_of(target: Target, export: str) -> str:
    """A description of the credentials found; DestinationError when there are none."""
    if isinstance(target, S3Target):
        return _s3(target, export)
    if isinstance(target, GcsTarget):
        return _gcs(target, export)
    return "none needed"


def named_keys(target: S3Target, export: str) -> dict[str, str | None] | None:
    """boto3's keyword arguments for the keys `access_key_env` / `secret_key_env` name (None:
    the config names none); DestinationError when a named variable is not set."""
    if not (target.access_key_env and target.secret_key_env):
        return None
    named = (target.access_key_env, target.secret_key_env)
    missing = [name for name in named if not os.environ.get(name)]
    if missing:
        raise DestinationError(
            f"export '{export}': destination: environment variable(s) {missing} not set",
            hint="export them, or remove access_key_env/secret_key_env to use the AWS chain",
        )
    return {
        "aws_access_key_id": os.environ[target.access_key_env],
        "aws_secret_access_key": os.environ[target.secret_key_env],
        "aws_session_token": os.environ.get(target.session_token_env or "") or None,
    }


def _s3(target: S3Target, export: str) -> str:
    if target.allow_anonymous:
        return "anonymous (allow_anonymous)"
    if named_keys(target, export) is not None:
        return f"keys from {target.access_key_env} / {target.secret_key_env}"
    try:
        import boto3
        import botocore.exceptions
    except ImportError:
        raise MissingExtra(f"export '{export}': destination type s3", "s3") from None

    try:
        found = boto3.session.Session(profile_name=target.aws_profile).get_credentials()
    except botocore.exceptions.BotoCoreError as exc:  # a profile that does not exist...
        raise DestinationError(
            f"export '{export}': destination: AWS credentials cannot be loaded: {exc}",
            hint="check destination.aws_profile and ~/.aws/config",
        ) from None
    if found is None:
        raise DestinationError(
            f"export '{export}': destination s3://{target.bucket}/{target.prefix}: no AWS "
            "credentials found (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are not set, and no "
            "profile, web identity or instance role provides them)",
            hint="export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, set destination.aws_profile "
            "or access_key_env / secret_key_env, or allow_anonymous: true for a public bucket",
        )
    return f"AWS chain ({found.method})"


def _gcs(target: GcsTarget, export: str) -> str:
    try:
        import google.cloud.storage  # noqa: F401  (the run needs it: say so now)
    except ImportError:
        raise MissingExtra(f"export '{export}': destination type gcs", "gcs") from None
    if target.allow_anonymous:
        return "anonymous (allow_anonymous)"
    if target.credentials_file:
        return f"service account file {target.credentials_file}"
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if named:
        if not Path(named).is_file():
            raise DestinationError(
                f"export '{export}': destination: GOOGLE_APPLICATION_CREDENTIALS names "
                f"'{named}', which does not exist",
                hint="point it at a service-account or user credentials JSON file",
            )
        return f"GOOGLE_APPLICATION_CREDENTIALS ({named})"
    gcloud = Path.home() / ".config" / "gcloud" / "application_default_credentials.json"
    if gcloud.is_file():
        return f"gcloud application default credentials ({gcloud})"
    return "Application Default Credentials from the metadata server (not checked from here)"
