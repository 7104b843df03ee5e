"""Nothing waits forever: a dead endpoint, one that accepts connections and
never answers, and throttling that never ends each end in one line naming
the endpoint, bounded by the client's timeouts and the call deadline (the
tests shrink those; they assert what is said, never how long it took)."""

from __future__ import annotations

import socket
import threading

import pytest

from codemate_cfn.deploy.aws import Aws, Target, translated_errors
from codemate_cfn.errors import CodemateError
from deploy_support import KEYS, REGION, throttle

pytest_plugins = ["emulator_fixtures"]


@pytest.fixture
def silent_endpoint():
    """A server on 127.0.0.1 that accepts every connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    for connection in held:
        connection.close()


def describe(target: Target) -> str:
    with pytest.raises(CodemateError) as failed, translated_errors(target):
        Aws(target).cloudformation.describe_stacks()
    return str(failed.value)


def test_an_endpoint_that_never_answers_is_given_up_naming_it(silent_endpoint):
    target = Target(REGION, endpoint_url=silent_endpoint, credentials=KEYS, read_timeout=0.3, call_deadline=0.5)
    message = describe(target)
    assert message.startswith(f"{silent_endpoint} ({REGION}) ")
    assert "no answer in time" in message or "did not answer within 0.3 s" in message


def test_a_dead_endpoint_is_named():
    target = Target(REGION, endpoint_url="http://127.0.0.1:9", credentials=KEYS, max_attempts=2)
    assert describe(target).startswith(f"cannot reach http://127.0.0.1:9 ({REGION})")


@pytest.mark.emulator
def test_throttling_that_never_ends_stops_at_the_call_deadline(emulator, no_backoff):
    target = Target(REGION, endpoint_url=emulator.url, credentials=KEYS, max_attempts=10_000, call_deadline=0.2)
    aws = Aws(target)
    throttle(aws, 10**9)
    with pytest.raises(CodemateError) as failed, translated_errors(target):
        aws.cloudformation.describe_stacks(StackName="codemate-dev")
    # whichever ends it first, botocore's retry quota or the call deadline,
    # the one line names the endpoint and the throttling
    said = str(failed.value)
    assert said == (f"{emulator.url} ({REGION}) kept throttling DescribeStacks through every retry: "
                    "Throttling: Rate exceeded") or (
        said.startswith(f"{emulator.url} ({REGION}) did not answer usefully: gave up after ")
        and said.endswith("of retries (Throttling)"))
