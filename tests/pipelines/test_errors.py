"""Connector errors name their cause (issue 14 #7): never a bare `AirbyteTracedException(None)`."""

from __future__ import annotations

from airbyte_cdk.models import AirbyteErrorTraceMessage, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from pipelines.errors import trace_text


def test_the_cause_is_in_the_text() -> None:
    try:
        {}["updatedat"]
    except KeyError as k:
        e = AirbyteTracedException.from_exception(k)
    assert trace_text(e) == "'updatedat'"
    trace = AirbyteErrorTraceMessage(message="AirbyteTracedException(None)", internal_message="KeyError: 'updatedat'",
                                     failure_type=FailureType.system_error)
    assert trace_text(trace) == "KeyError: 'updatedat'"
    trace = AirbyteErrorTraceMessage(message="stream customers failed", internal_message="cursor 'updatedat'",
                                     failure_type=FailureType.system_error)
    assert trace_text(trace) == "stream customers failed (cause: cursor 'updatedat')"
    assert trace_text(AirbyteTracedException(message="no file matches x", internal_message="no file matches x")) \
        == "no file matches x"
    assert trace_text(AirbyteErrorTraceMessage(message="", stack_trace="Traceback …\nValueError: bad cursor")) \
        == "ValueError: bad cursor"
