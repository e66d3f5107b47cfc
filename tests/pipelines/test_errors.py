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


def test_a_streams_failure_is_named_once_however_many_slices_failed() -> None:
    """The CDK lists a stream's error once per failed time slice, as `AirbyteTracedException('…')`: a refused login
    of Kingdee was nineteen lines of the summary."""
    login = "Kingdee login failed (LoginResultType 0): 数据中心不存在"
    listed = "\n".join([f"BD_Customer: AirbyteTracedException('{login}')"] * 19
                       + ['salesmen: AirbyteTracedException("gone")'])
    trace = AirbyteErrorTraceMessage(message="During the sync, the following streams did not sync successfully: "
                                     + listed, failure_type=FailureType.config_error)
    assert trace_text(trace) == ("During the sync, the following streams did not sync successfully: "
                                 f"BD_Customer: {login}; salesmen: gone")
