"""Console fixtures: a matched warehouse (see tests/conftest.py) with console users, a secret and a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.users import hash_password

PASSWORDS = {"vic": "viewer-pass-1", "alice": "steward-pass-1", "root": "admin-pass-01"}
ROLE_OF = {"vic": "viewer", "alice": "steward", "root": "admin"}
API_TOKEN = "test-api-token-0123456789"


@pytest.fixture(scope="session")
def user_hashes() -> dict[str, str]:
    return {name: hash_password(pw) for name, pw in PASSWORDS.items()}


@pytest.fixture
def console_project(steward_project: Path, user_hashes: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """`steward_project` plus a console section: three users, a secret key and an API token from the environment."""
    monkeypatch.setenv("HUB_TEST_SECRET", "s3cret-key-for-the-tests-only")
    monkeypatch.setenv("HUB_TEST_TOKEN", API_TOKEN)
    users = "\n".join(f'    - {{name: {n}, role: {ROLE_OF[n]}, password_hash: "{h}"}}' for n, h in user_hashes.items())
    with steward_project.open("a", encoding="utf-8") as f:
        f.write(f"console:\n  users:\n{users}\n  secret_key: ${{HUB_TEST_SECRET}}\n"
                f"  api_tokens: [\"${{HUB_TEST_TOKEN}}\"]\n  session_ttl_minutes: 30\n")
    return steward_project



@pytest.fixture
def passwords() -> dict[str, str]:
    """The console users' passwords (viewer `vic`, steward `alice`, admin `root`)."""
    return dict(PASSWORDS)


@pytest.fixture
def api_token() -> str:
    return API_TOKEN
