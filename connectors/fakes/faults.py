"""The faults a vendor fake injects into data calls, and the counters of calls, faults and auth errors."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.fakes.tokens import TokenState

FAULT_KINDS = ("token_revoked", "rate_limited", "http_5xx", "slow", "malformed", "quota_exceeded")


@dataclass(frozen=True)
class Faults:
    """Switchable faults; the random ones draw from ``random.Random(seed)``.

    ``revoke_token_after=N`` revokes every token after its N-th successful data call (the
    (N+1)-th call gets the vendor's token-expired error). ``rate_limit_burst=N`` answers the
    next N data calls with the vendor's rate-limit error. ``enforce_limits`` turns on the
    vendor's documented real limits (QPS windows, token-endpoint limits; counted as
    ``rate_limited``). ``quota_exhausted`` answers every data call with the vendor's
    daily/monthly quota error, where it has one; ``quota_after=N`` does so once N data calls
    (of every token together, counted from when it was set) have been answered, for a source
    that fails part-way through a read. ``malformed_record`` serves one record per
    malformable object in a malformed form, the same record on every read (counted per record
    served).
    """

    revoke_token_after: int | None = None
    revoke_rate: float = 0.0
    rate_limit_burst: int = 0
    rate_limit_rate: float = 0.0
    enforce_limits: bool = False
    quota_exhausted: bool = False
    quota_after: int | None = None
    error_5xx_rate: float = 0.0
    slow_ms: int = 0
    slow_rate: float = 0.0
    malformed_record: bool = False
    seed: int = 0

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with ``changes`` applied; ValueError on an unknown or ill-typed field."""
        kinds = {f.name: str(f.type) for f in dataclasses.fields(self)}  # (annotations are text: `from __future__`)
        clean: dict[str, Any] = {}
        for name, value in changes.items():
            kind = kinds.get(name)
            if kind is None:
                raise ValueError(f"unknown fault {name!r}; known: {sorted(kinds)}")
            clean[name] = _check_fault_value(name, kind, value)
        return dataclasses.replace(self, **clean)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check_fault_value(name: str, kind: str, value: Any) -> Any:
    if kind == "int | None" and value is None:
        return None
    if kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind in ("int", "int | None"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    elif kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        if name.endswith("_rate") and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be within [0, 1], got {value}")
        return float(value)
    raise ValueError(f"{name} must be {kind} (non-negative), got {value!r}")


class Stats:
    """Thread-safe counters of calls, injected faults and auth errors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._calls: Counter[str] = Counter()
            self._faults: Counter[str] = Counter({kind: 0 for kind in FAULT_KINDS})
            self._auth_errors: Counter[str] = Counter()
            self._data_calls = 0
            self._tokens_issued = 0

    def call(self, endpoint: str, *, data: bool) -> None:
        with self._lock:
            self._calls[endpoint] += 1
            self._data_calls += data

    def fault(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._faults[kind] += n

    def auth_error(self, state: TokenState) -> None:
        with self._lock:
            self._auth_errors[state.value] += 1

    def token_issued(self) -> None:
        with self._lock:
            self._tokens_issued += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self._calls),
                "data_calls": self._data_calls,
                "faults": dict(self._faults),
                "auth_errors": dict(self._auth_errors),
                "tokens_issued": self._tokens_issued,
            }
