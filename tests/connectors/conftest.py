"""Shared helpers of the API-connector tests: reads against the fake vendor servers over loopback.

Every behaviour test starts a fake from `connectors/fakes/` on a free loopback port, points the
connector's `base_url` at it and reads through the airbyte-cdk entrypoint (`read`/`discover`
of `airbyte_cdk.test.entrypoint_wrapper`) or, where the test needs to stop half-way or to see
every log record, through `source.read()` in-process exactly as the hub calls it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from airbyte_cdk.logger import AirbyteLogFormatter
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    SyncMode,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.test.catalog_builder import CatalogBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.models import ExpectedOutcome

REPO = Path(__file__).resolve().parents[2]
CONNECTORS_DIR = REPO / "connectors"



def _cache_cdk_schema() -> None:
    """Parse the CDK's 5,000-line component schema once per test session, not per source built
    (it is a packaged file; the connectors' behaviour does not depend on re-reading it)."""
    from functools import cache

    from airbyte_cdk.sources.declarative import concurrent_declarative_source as cds

    cds.get_declarative_component_schema = cache(cds.get_declarative_component_schema)  # type: ignore[assignment]


_cache_cdk_schema()

# Retries in tests wait factor × 2^attempt (+ the CDK's fixed extra second), not minutes.
FAST_RETRY = {"backoff_factor": 0.01, "max_retries": 4}

SourceFactory = Callable[..., Source]


@pytest.fixture(autouse=True)
def _fresh_sessions() -> None:
    """Each test logs in afresh: fakes are reset between tests, which drops their tokens."""
    from connectors.cdk_components import forget_sessions

    forget_sessions()


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers that airbyte-cdk's standard test suite applies (strict markers)."""
    config.addinivalue_line("markers", "image_tests: airbyte-cdk docker image tests (not run here)")
    config.addinivalue_line("markers", "requires_creds: airbyte-cdk scenario needing real credentials")


def catalog_for(streams: Mapping[str, SyncMode] | Iterable[str]) -> ConfiguredAirbyteCatalog:
    """A configured catalog of `streams` (full refresh unless a mode is given)."""
    modes = streams if isinstance(streams, Mapping) else dict.fromkeys(streams, SyncMode.full_refresh)
    builder = CatalogBuilder()
    for name, mode in modes.items():
        builder = builder.with_stream(name, mode)
    return builder.build()


def read_streams(
    create_source: SourceFactory,
    config: Mapping[str, Any],
    streams: Mapping[str, SyncMode] | Iterable[str],
    state: list[AirbyteStateMessage] | None = None,
    *,
    expect_failure: bool = False,
) -> EntrypointOutput:
    """Read `streams` through the airbyte-cdk entrypoint."""
    catalog = catalog_for(streams)
    return read(
        create_source(config, catalog, state),
        dict(config),
        catalog,
        state,
        expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else None,
    )


def records_of(output: EntrypointOutput | Iterable[AirbyteMessage], stream: str) -> list[dict[str, Any]]:
    messages = output.records if isinstance(output, EntrypointOutput) else output
    return [m.record.data for m in messages if m.type == Type.RECORD and m.record.stream == stream]


def error_text(output: EntrypointOutput) -> str:
    return "\n".join(
        f"{m.trace.error.message} | {m.trace.error.internal_message}" for m in output.errors
    )


def assert_exactly(keys: Iterable[Hashable], expected: Iterable[Hashable]) -> None:
    """Every expected key once, and nothing else."""
    seen = Counter(keys)
    duplicates = {k: n for k, n in seen.items() if n > 1}
    assert not duplicates, f"duplicated: {list(duplicates)[:5]}"
    expected_set = set(expected)
    assert set(seen) == expected_set, (
        f"missing {list(expected_set - set(seen))[:5]}, unexpected {list(set(seen) - expected_set)[:5]}"
    )


def fake_stats(url: str) -> dict[str, Any]:
    response = requests.get(f"{url}/_fake/stats", timeout=5)
    response.raise_for_status()
    return response.json()


def set_faults(url: str, **faults: Any) -> None:
    """Switch faults at runtime through the fake's control API."""
    requests.post(f"{url}/_fake/faults", json=faults, timeout=5).raise_for_status()


@dataclass
class InProcessRun:
    """Messages of an in-process `source.read()` (the hub's way), and every log record."""

    messages: list[AirbyteMessage] = field(default_factory=list)
    raw_logs: list[tuple[int, str]] = field(default_factory=list)
    formatted_logs: list[str] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def records(self) -> list[AirbyteMessage]:
        return [m for m in self.messages if m.type == Type.RECORD]

    def serialized(self) -> str:
        return "\n".join(
            json.dumps(AirbyteMessageSerializer.dump(m), ensure_ascii=False) for m in self.messages
        )

    def visible_text(self) -> str:
        """Everything a user can see: messages, the error, log records at INFO and above as
        any formatter shows them, and every record (DEBUG too) as the CDK's formatter shows it."""
        raw = [text for level, text in self.raw_logs if level >= logging.INFO]
        return "\n".join([self.serialized(), str(self.error), *raw, *self.formatted_logs])


class _Capture(logging.Handler):
    """Keep each record's bare text (with its level) and its AirbyteLogFormatter rendering."""

    def __init__(self, run: InProcessRun) -> None:
        super().__init__(level=logging.DEBUG)
        self.run = run
        self.cdk_format = AirbyteLogFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.run.raw_logs.append((record.levelno, text))
        self.run.formatted_logs.append(self.cdk_format.format(record))


def read_in_process(
    create_source: SourceFactory,
    config: Mapping[str, Any],
    streams: Mapping[str, SyncMode] | Iterable[str],
    state: list[AirbyteStateMessage] | None = None,
    *,
    stop_after_records: int | None = None,
    log_level: int = logging.INFO,
) -> InProcessRun:
    """Call `source.read()` as the hub does; optionally stop consuming after N records."""
    catalog = catalog_for(streams)
    run = InProcessRun()
    root = logging.getLogger()
    handler = _Capture(run)
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(log_level)
    logger = logging.getLogger("airbyte.hub_test")
    try:
        source = create_source(config, catalog, state)
        messages = source.read(logger, dict(config), catalog, state)
        try:
            for message in messages:
                run.messages.append(message)
                if stop_after_records is not None and len(run.records) >= stop_after_records:
                    break
        finally:
            close = getattr(messages, "close", None)
            if close is not None:
                close()
    except Exception as error:
        run.error = error
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    return run


def committed_part(messages: list[AirbyteMessage]) -> tuple[list[AirbyteMessage], list[AirbyteStateMessage]]:
    """What a destination keeps of an interrupted sync: per stream, the records emitted before
    that stream's last STATE message, and those STATE messages (to resume from)."""
    last_state_index: dict[str, int] = {}
    states: dict[str, AirbyteStateMessage] = {}
    for index, message in enumerate(messages):
        if message.type == Type.STATE and message.state.stream is not None:
            name = message.state.stream.stream_descriptor.name
            last_state_index[name] = index
            states[name] = message.state
    kept = [
        m
        for index, m in enumerate(messages)
        if m.type == Type.RECORD and index < last_state_index.get(m.record.stream, -1)
    ]
    return kept, list(states.values())


def scenario(name: str, config: Mapping[str, Any], *, status: str, sections: tuple[str, ...]) -> Any:
    """A standard-suite scenario over an in-memory config (named: such a scenario has no file)."""
    from airbyte_cdk.test.models import ConnectorTestScenario

    built = ConnectorTestScenario(config_dict=dict(config), status=status, sections=sections)
    built._id = name
    return built


def standard_suite_base(vendor: str, create_source: SourceFactory) -> type:
    """airbyte-cdk's `DeclarativeSourceTestSuite` for `connectors/<vendor>`, built in-process.

    The connector is built by the package's `create_source` (the hub's entry point) instead of
    the suite's injected-manifest path, and the Docker image tests are left out. Imported here,
    lazily, because the suite applies markers that `pytest_configure` above registers.
    """
    from airbyte_cdk.test.models import ConnectorTestScenario
    from airbyte_cdk.test.standard_tests import DeclarativeSourceTestSuite

    class InProcessSuite(DeclarativeSourceTestSuite):
        __test__ = False  # collected through the subclass in each test module

        @classmethod
        def get_connector_root_dir(cls) -> Path:
            return CONNECTORS_DIR / vendor

        @classmethod
        def create_connector(cls, scenario: ConnectorTestScenario | None) -> Any:
            if scenario is None:
                return create_source({})
            return create_source(scenario.get_config_dict(empty_if_missing=True,
                                                          connector_root=cls.get_connector_root_dir()))

        test_docker_image_build_and_spec = None
        test_docker_image_spec_backward_compatibility = None
        test_docker_image_build_and_check = None
        test_docker_image_build_and_config_matches_spec = None
        test_docker_image_build_and_discover = None
        test_docker_image_build_and_read = None

    return InProcessSuite


def stream_state_values(states: Iterable[AirbyteStateMessage]) -> dict[str, dict[str, Any]]:
    return {s.stream.stream_descriptor.name: dict(s.stream.stream_state.__dict__) for s in states}


def state_messages(output: EntrypointOutput) -> list[AirbyteStateMessage]:
    """The last STATE message of each stream of a read, to pass to the next read."""
    last: dict[str, AirbyteStateMessage] = {}
    for message in output.state_messages:
        last[message.state.stream.stream_descriptor.name] = message.state
    return list(last.values())


def assert_resumes_exactly(
    create_source: SourceFactory,
    config: Mapping[str, Any],
    streams: Mapping[str, SyncMode],
    expected: Mapping[str, set[Hashable]],
    key_of: Callable[[str, Mapping[str, Any]], Hashable],
    cursor_field: Callable[[str], str | None],
    stop_after_records: int,
) -> None:
    """Interrupt a sync after N records, resume from the last STATE of each stream, and check
    that the kept part plus the resumed part hold every record; the only records read twice
    are those whose cursor equals the state the stream resumed from (the CDK resumes
    inclusively, so a record sharing the checkpoint's timestamp cannot be lost)."""
    first = read_in_process(create_source, config, streams, stop_after_records=stop_after_records)
    kept, states = committed_part(first.messages)
    assert first.error is None, first.error
    assert len(first.records) == stop_after_records < sum(map(len, expected.values()))
    assert states, "no checkpoint before the interruption"

    second = read_in_process(create_source, config, streams, state=states)

    assert second.error is None, second.error
    resumed_from = stream_state_values(states)
    for stream, keys in expected.items():
        parts = [m.record.data for m in kept + second.records if m.record.stream == stream]
        seen = Counter(key_of(stream, r) for r in parts)
        assert set(seen) == keys, f"{stream}: missing {list(keys - set(seen))[:5]}"
        field_name = cursor_field(stream)
        twice = [r for r in parts if seen[key_of(stream, r)] > 1]
        boundary = resumed_from.get(stream, {}).get(field_name) if field_name else None
        assert all(field_name and _same_instant(r[field_name], boundary) for r in twice), (
            f"{stream}: read twice beyond the checkpoint boundary {boundary}: "
            f"{[key_of(stream, r) for r in twice][:5]}"
        )


def _same_instant(value: Any, other: Any) -> bool:
    """Equal cursor values, whether written with a "T" or a space between date and time."""
    return str(value).replace("T", " ") == str(other).replace("T", " ")


@contextmanager
def edited_during_read(dataset: Any, name: str, key: str, value: Any, changes: Mapping[str, Any]) -> Iterator[None]:
    """A user editing a record while a sync reads: once the fake has answered its first query of `name` (that
    page already computed), the record `key` = `value` gets `changes`; put back as it was afterwards (the
    module's server serves the other tests)."""
    queries = dataset.records
    before = next(dict(r) for r in queries(name) if r[key] == value)
    edited = False

    def records(asked: str) -> list[dict[str, Any]]:
        nonlocal edited
        out = queries(asked)
        if asked == name and not edited:
            edited = True
            dataset.upsert(name, {key: value, **changes})
        return out

    dataset.records = records
    try:
        yield
    finally:
        del dataset.records  # (the class's method again)
        dataset.upsert(name, before)
