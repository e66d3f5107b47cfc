"""Console users: argon2 password hashes and the `console.users` list of the config file.

`hub users add` and the console's admin page both call `set_user`, which rewrites only the
`console.users` list inside the YAML text (comments, order and `${VAR}` references elsewhere in
the file stay as they were) and checks the result with `load_config` before saving it. Plain
passwords are never written or logged; only argon2id hashes are stored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from hub.extras import require

require("console", "console users (hub users)")

from argon2 import PasswordHasher  # noqa: E402  (after the check: argon2 comes with customer-hub[console])
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError  # noqa: E402

from core.config import ROLES, USER_NAME, ConfigError  # noqa: E402
from core.config_file import load_config  # noqa: E402

__all__ = ["MIN_PASSWORD", "UserError", "hash_password", "list_users", "remove_user", "set_user",
           "verify_password"]

MIN_PASSWORD = 8
_hasher = PasswordHasher()


class UserError(Exception):
    """A user change that cannot be made; the message says why."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def list_users(config_path: str | Path, env: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    cfg = load_config(config_path, env=env)
    return [{"name": u.name, "role": u.role} for u in cfg.console.users]


def _users_text(users: list[dict[str, Any]], indent: int) -> str:
    pad = " " * indent
    if not users:
        return "users: []"
    items = [f"{pad}  - {{name: {json.dumps(u['name'])}, role: {u['role']}, "
             f"password_hash: {json.dumps(u['password_hash'])}}}" for u in users]
    return "users:\n" + "\n".join(items)


def _last_scalar_end(node: yaml.Node) -> int:
    """The text offset just after the last scalar inside `node` (block nodes end at the next token)."""
    if isinstance(node, yaml.ScalarNode):
        return node.end_mark.index
    kids = [n for kv in node.value for n in kv] if isinstance(node, yaml.MappingNode) else list(node.value)
    if not kids or node.flow_style:
        return node.end_mark.index
    return max(_last_scalar_end(k) for k in kids)


def _rewrite(text: str, users: list[dict[str, Any]]) -> str:
    """`text` with `console.users` replaced by `users` (the console section added when missing)."""
    root = yaml.compose(text)
    if root is None:
        return text.rstrip("\n") + ("\n" if text.strip() else "") + "console:\n  " + _users_text(users, 2) + "\n"
    if not isinstance(root, yaml.MappingNode):
        raise UserError("the config file is not a YAML mapping")
    console = next((v for k, v in root.value if k.value == "console"), None)
    if console is None:
        body = text.rstrip("\n")
        return body + "\nconsole:\n  " + _users_text(users, 2) + "\n"
    if isinstance(console, yaml.ScalarNode) and console.value in ("", "~", "null"):
        start, end = console.start_mark.index, _last_scalar_end(console)
        return text[:start].rstrip(" ") + "\n  " + _users_text(users, 2) + text[end:]
    if not isinstance(console, yaml.MappingNode) or console.flow_style:
        raise UserError("console: is written in flow style ({...}); write it as a block mapping to manage users")
    for k, v in console.value:
        if k.value == "users":
            indent = k.start_mark.column
            return text[:k.start_mark.index] + _users_text(users, indent) + text[_last_scalar_end(v):]
    first = console.value[0][0] if console.value else None
    indent = first.start_mark.column if first is not None else 2
    at = first.start_mark.index if first is not None else console.start_mark.index
    return text[:at] + _users_text(users, indent) + "\n" + " " * indent + text[at:]


def _current(path: Path) -> tuple[str, list[dict[str, Any]]]:
    text = path.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    console = (data.get("console") or {}) if isinstance(data, dict) else {}
    users = list(console.get("users") or []) if isinstance(console, dict) else []
    return text, [dict(u) for u in users if isinstance(u, dict)]


def _save(path: Path, text: str, env: Mapping[str, str] | None) -> None:
    """Write `text` atomically after checking that it is still a valid configuration."""
    fd, tmp = tempfile.mkstemp(prefix=".hub-users-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            load_config(tmp, env=env)
        except ConfigError as e:
            raise UserError(f"the change would make the config invalid:\n{e}") from None
        os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def set_user(config_path: str | Path, name: str, role: str, password_hash: str,
             env: Mapping[str, str] | None = None) -> bool:
    """Add a user or change an existing one's role and password; True when the user is new."""
    if not USER_NAME.match(name):
        raise UserError(f"user name {name!r}: letters, digits and _ . @ - (at most 64)")
    if role not in ROLES:
        raise UserError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    path = Path(config_path)
    text, users = _current(path)
    entry = {"name": name, "role": role, "password_hash": password_hash}
    new = not any(u.get("name") == name for u in users)
    users = [entry if u.get("name") == name else u for u in users] + ([entry] if new else [])
    _save(path, _rewrite(text, users), env)
    return new


def remove_user(config_path: str | Path, name: str, env: Mapping[str, str] | None = None) -> None:
    path = Path(config_path)
    text, users = _current(path)
    if not any(u.get("name") == name for u in users):
        raise UserError(f"no user {name!r}")
    _save(path, _rewrite(text, [u for u in users if u.get("name") != name]), env)
