"""AWS sessions and clients for every command: region (resolved as the
AWS CLI does, see `resolve_region`), profile, endpoint (--endpoint-url or AWS_ENDPOINT_URL),
botocore's adaptive or standard retries, and a count of API calls.

Nothing waits forever: every request has connect and read timeouts, and no
new attempt of a call starts once the call has run for `call_deadline`
seconds, so a dead endpoint, one that accepts connections and never
answers, or throttling that never ends is one clear error within about
half a minute of the first symptom."""

from __future__ import annotations

import os
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass

RETRY_MODES = ("adaptive", "standard")
ENDPOINT_ENV = "AWS_ENDPOINT_URL"


@dataclass(frozen=True)
class Target:
    """Where AWS calls go."""

    region: str  # where the calls go; the command line resolves it (resolve_region)
    profile: str | None = None
    endpoint_url: str | None = None  # None: AWS_ENDPOINT_URL, else AWS itself
    retry_mode: str = "adaptive"
    # HTTP requests per call, the first included: with botocore's backoff (at
    # most 1+2+4+8 s) five attempts stay well inside the call deadline.
    max_attempts: int = 5
    credentials: tuple[str, str] | None = None  # explicit keys (the emulator's dummy ones)
    connect_timeout: float = 5.0  # seconds to open a connection
    read_timeout: float = 10.0  # seconds to wait for an answer on an open connection
    call_deadline: float = 20.0  # no new attempt once a call has run this long

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
        from botocore.exceptions import BotoCoreError, ProfileNotFound

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
        except BotoCoreError as exc:  # a malformed config or credentials file
            raise CodemateError(f"AWS config: {exc}") from None
        self.calls: Counter[str] = Counter()
        self.session.events.register("before-call", self._count)
        self.session.events.register("before-send", self._within_deadline)
        self.session.events.register("needs-retry", self._note_symptom)
        self._clients: dict[str, object] = {}

    def _count(self, model, context=None, **_) -> None:
        self.calls[f"{model.service_model.service_name}:{model.name}"] += 1
        if context is not None:
            context["codemate_started"] = time.monotonic()

    def _within_deadline(self, request, **_) -> None:
        """Called before each attempt of a call: refuse to start another once
        the call has run past the deadline (throttling or timeouts that do not end)."""
        context = getattr(request, "context", None) or {}
        started = context.get("codemate_started")
        if started is not None and time.monotonic() - started > self.target.call_deadline:
            raise CallDeadline(round(time.monotonic() - started), context.get("codemate_symptom"))

    @staticmethod
    def _note_symptom(request_dict=None, response=None, caught_exception=None, **_) -> None:
        """Remember why the last attempt failed, for the deadline's message."""
        if request_dict is None:
            return
        if caught_exception is not None:
            symptom = type(caught_exception).__name__
        elif response is not None:
            error = (response[1] or {}).get("Error", {})
            symptom = error.get("Code") or f"HTTP {response[0].status_code}"
        else:
            return
        request_dict.setdefault("context", {})["codemate_symptom"] = symptom

    def client(self, service: str):
        if service not in self._clients:
            from botocore.config import Config

            config = Config(
                retries={"mode": self.target.retry_mode, "total_max_attempts": self.target.max_attempts},
                connect_timeout=self.target.connect_timeout,
                read_timeout=self.target.read_timeout,
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
    def route53(self):
        """Route 53 is global: made like the others, with the target's
        region, botocore sends it to route53.amazonaws.com (signed for
        us-east-1; route53.amazonaws.com.cn from a China region), or to the
        endpoint URL when there is one."""
        return self.client("route53")

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class CallDeadline(Exception):
    """A call ran past Target.call_deadline (its attempts kept failing)."""

    def __init__(self, seconds: int, symptom: str | None = None):
        why = {"ReadTimeoutError": "no answer in time", "ConnectTimeoutError": "no connection in time"}.get(
            symptom or "", symptom or "failed attempts")
        super().__init__(f"gave up after {seconds} s of retries ({why})")
        self.seconds = seconds


REGION_ENV = ("AWS_REGION", "AWS_DEFAULT_REGION")
# Error codes AWS answers with when it throttles a caller.
THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
             "TooManyRequestsException", "SlowDown", "RequestThrottled", "RequestThrottledException"}


def resolve_region(given: str | None, profile: str | None, fallback: str) -> tuple[str, str]:
    """(region, where it came from), the way the AWS CLI looks: --region,
    then AWS_REGION / AWS_DEFAULT_REGION, then the profile's config, then
    `fallback` (the project's own region)."""
    from codemate_cfn.errors import CodemateError

    if given:
        return given, "--region"
    for name in REGION_ENV:
        if os.environ.get(name):
            return os.environ[name], name
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        configured = boto3.Session(profile_name=profile).region_name
    except ProfileNotFound:
        raise CodemateError(f"AWS profile {profile!r} not found in the AWS config files") from None
    except BotoCoreError as exc:
        raise CodemateError(f"AWS config: {exc}") from None
    if configured:
        return configured, f"profile {profile or 'default'}"
    return fallback, "the project's default"


def caller_identity(aws) -> dict:
    """Who the calls go out as: {"Account", "Arn", "UserId"} (STS)."""
    return aws.client("sts").get_caller_identity()


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
        BotoCoreError,
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
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
    except CallDeadline as exc:
        raise CodemateError(f"{target.describe()} did not answer usefully: {exc}") from None
    except ConnectTimeoutError:
        raise CodemateError(f"cannot reach {target.describe()}: no connection within "
                            f"{target.connect_timeout:g} s (after retries)") from None
    except ReadTimeoutError:
        raise CodemateError(f"{target.describe()} accepted the connection but did not answer within "
                            f"{target.read_timeout:g} s (after retries)") from None
    except (EndpointConnectionError, ConnectionClosedError) as exc:
        raise CodemateError(f"cannot reach {target.describe()}: {exc}") from None
    except ResponseParserError:
        raise CodemateError(f"{target.describe()} answered with something that is not an AWS response") from None
    except ClientError as exc:
        operation = getattr(exc, "operation_name", "an AWS call")
        if error_code(exc) in THROTTLED:
            raise CodemateError(f"{target.describe()} kept throttling {operation} through every retry: "
                                f"{error_code(exc)}: {error_message(exc)}") from None
        raise CodemateError(f"{operation} failed: {error_code(exc)}: {error_message(exc)}") from None
    except BotoCoreError as exc:  # e.g. a profile or config file botocore reads only now
        raise CodemateError(f"{target.describe()}: {exc}") from None
