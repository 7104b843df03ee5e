"""AWS sessions and clients for every command: region (default
ap-northeast-2), profile, endpoint (--endpoint-url or AWS_ENDPOINT_URL),
botocore's adaptive or standard retries, and a count of API calls."""

from __future__ import annotations

import os
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

DEFAULT_REGION = "ap-northeast-2"
RETRY_MODES = ("adaptive", "standard")
ENDPOINT_ENV = "AWS_ENDPOINT_URL"


@dataclass(frozen=True)
class Target:
    """Where AWS calls go."""

    region: str = DEFAULT_REGION
    profile: str | None = None
    endpoint_url: str | None = None  # None: AWS_ENDPOINT_URL, else AWS itself
    retry_mode: str = "adaptive"
    max_attempts: int = 10  # HTTP requests per call, the first included
    credentials: tuple[str, str] | None = None  # explicit keys (the emulator's dummy ones)

    @property
    def endpoint(self) -> str | None:
        return self.endpoint_url or os.environ.get(ENDPOINT_ENV) or None

    def describe(self) -> str:
        where = self.endpoint or "AWS"
        profile = f", profile {self.profile}" if self.profile else ""
        return f"{where} ({self.region}{profile})"


class Aws:
    """Clients for one target, sharing one session; counts the API calls
    made through them (`calls`: operation name -> count)."""

    def __init__(self, target: Target, session=None):
        import boto3
        from botocore.exceptions import ProfileNotFound

        from codemate_cfn.errors import CodemateError

        if target.retry_mode not in RETRY_MODES:
            raise CodemateError(f"retry mode {target.retry_mode!r} is not one of: {', '.join(RETRY_MODES)}")
        self.target = target
        keys = {}
        if target.credentials:
            keys = {"aws_access_key_id": target.credentials[0], "aws_secret_access_key": target.credentials[1]}
        try:
            self.session = session or boto3.Session(profile_name=target.profile, region_name=target.region, **keys)
        except ProfileNotFound:
            raise CodemateError(f"AWS profile {target.profile!r} not found in the AWS config files") from None
        self.calls: Counter[str] = Counter()
        self.session.events.register("before-call", self._count)
        self._clients: dict[str, object] = {}

    def _count(self, model, **_) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1

    def client(self, service: str):
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": self.target.retry_mode, "total_max_attempts": self.target.max_attempts},
                user_agent_extra="codemate-cfn",
            )
            self._clients[service] = self.session.client(
                service, region_name=self.target.region, endpoint_url=self.target.endpoint, config=config
            )
        return self._clients[service]

    @property
    def cloudformation(self):
        return self.client("cloudformation")

    @property
    def s3(self):
        return self.client("s3")

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def url_suffix(region: str) -> str:
    """The domain suffix of the region's partition (AWS::URLSuffix)."""
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def error_code(exc) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def error_message(exc) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Message", "") or str(exc)


@contextmanager
def translated_errors(target: Target):
    """Turn botocore's exceptions into one-line CodemateErrors."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )
    from botocore.parsers import ResponseParserError

    from codemate_cfn.errors import CodemateError

    try:
        yield
    except NoCredentialsError:
        raise CodemateError(
            "no AWS credentials: set AWS_PROFILE or pass --profile, or use --local for the emulator"
        ) from None
    except NoRegionError:
        raise CodemateError("no AWS region: pass --region") from None
    except EndpointConnectionError as exc:
        raise CodemateError(f"cannot reach {target.describe()}: {exc}") from None
    except ResponseParserError:
        raise CodemateError(f"{target.describe()} answered with something that is not an AWS response") from None
    except ClientError as exc:
        operation = getattr(exc, "operation_name", "an AWS call")
        raise CodemateError(f"{operation} failed: {error_code(exc)}: {error_message(exc)}") from None
