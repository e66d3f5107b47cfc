"""Reading `hub.yaml` into a `HubConfig`: YAML with line numbers, `${VAR}` expansion, path resolution, validation.

`load_config(path)` returns a validated `HubConfig` or raises `ConfigError`, whose message names the file, the path
inside the document (`sources.crm_b.streams.customers.mapping`), the line where it can, and what was expected.

Secrets: `${VAR}` reads the environment, `${file:PATH}` reads a secret file (relative to the config file) and
`${cmd:COMMAND}` takes the output of a command (an external secret store's client:
`${cmd:vault kv get -field=password secret/crm}`). Every value obtained that way is remembered in
`HubConfig.secret_values` so that logs, errors and `hub config show` can mask it, but for a `${VAR}` holding a plain
setting (a user name, host, port, database or folder: `plain_setting`). Credentials in a URL are
percent-encoded. A key given twice in one YAML mapping is an error (YAML itself would keep the last silently).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin
from urllib.parse import quote, unquote

import yaml
from pydantic import BaseModel, ValidationError

from core.config import REFERENCE_FILES, ConfigError, HubConfig, did_you_mean
from core.secrets import MIN_LENGTH, mask, register

_VAR = re.compile(r"\$\{([^}]*)\}")
_FILE_URL = re.compile(r"^(?P<scheme>(sqlite|duckdb)[+a-z0-9]*):///(?P<path>.*)$")


def _line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map each path in the YAML document to its 1-based line number, for error messages."""
    index: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[str, ...]) -> None:
        index.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = (*path, str(k.value))
                index[key] = k.start_mark.line + 1
                walk(v, key)
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                walk(v, (*path, str(i)))

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, ())
    return index


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (plain YAML keeps the last one silently, so a
    second `mapping:` or `uscc:` would quietly replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice in one mapping (first on line {seen[key]}); "
                                "remove or merge one of them", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        """A timestamp-shaped value that is no real date (`0000-0-0T0:00:00`, `2024-02-30`) is a YAML error naming
        its line, not a Python ValueError from deep inside the loader."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} looks like a date or time but is none ({e}); quote it to keep it as text",
                node.start_mark) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_yaml_timestamp)


def parse_yaml(text: str) -> Any:
    """The YAML document, with a key given twice in one mapping an error."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: plain data only


SECRET_COMMAND_TIMEOUT_S = 30


def run_secret_command(command: str, base: Path) -> tuple[str | None, str | None]:
    """Run `${cmd:COMMAND}` (split like a shell would, not run by one; in the config file's folder) and take its
    standard output, stripped, as the secret: (value, None) or (None, why not)."""
    try:
        args = shlex.split(command)
    except ValueError as e:
        return None, f"secret command {command!r} cannot be parsed ({e})"
    if not args:
        return None, "secret command is empty: expected ${cmd:PROGRAM ARGS}"
    try:
        done = subprocess.run(args, cwd=base, capture_output=True, text=True, timeout=SECRET_COMMAND_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except FileNotFoundError:
        return None, f"secret command {args[0]!r} not found"
    except subprocess.TimeoutExpired:
        return None, f"secret command {args[0]!r} did not finish within {SECRET_COMMAND_TIMEOUT_S} s"
    except OSError as e:
        return None, f"secret command {args[0]!r} cannot be run ({e.strerror})"
    value = done.stdout.strip()
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [""])[0][:200]
        if value:
            why = why.replace(value, "****")
        return None, f"secret command {args[0]!r} exited with code {done.returncode}" + (f": {why}" if why else "")
    if not value:
        return None, f"secret command {args[0]!r} printed nothing"
    return value, None


_PLAIN_KEYS = frozenset({"username", "user", "user_name", "login", "host", "port", "database", "dbname", "db",
                         "path", "schema", "corpid", "corp_id", "agentid", "agent_id", "tenant"})
_PLAIN_NAME = re.compile(r"(?i)_(USER|USERNAME|USER_NAME|LOGIN|HOST|PORT|DATABASE|DB|DBNAME|PATH|DIR|SCHEMA|CORPID|"
                         r"CORP_ID|AGENTID|AGENT_ID|TENANT)$")
_SECRET_WORD = re.compile(r"(?i)PASS|PWD|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|SIGN|CERT")


def plain_setting(name: str, path: tuple[str, ...]) -> bool:
    """Whether the environment variable `name`, read at `path` of the config, holds a plain setting rather than a
    secret: a user name, host, port, database or folder (the key `username`, `host`… of a connector's config, or a
    variable named `…_USER`, `…_HOST`, `…_PATH`…) whose variable name has no secret word in it (PASS, SECRET, TOKEN,
    KEY…); URLs stay secrets (a password or token may be in one). Masking such a value would garble every text
    holding it (`KINGDEE_USERNAME=demo` masked every path with `demo` in it); every other `${VAR}` is a secret."""
    if _SECRET_WORD.search(name):
        return False
    return bool(path and path[-1].lower() in _PLAIN_KEYS) or bool(_PLAIN_NAME.search(name))


def _expand(obj: Any, path: tuple[str, ...], env: Mapping[str, str], base: Path,
            secrets: set[str], problems: list[tuple[tuple[str, ...], str]], commands: bool = True) -> Any:
    if isinstance(obj, dict):
        return {k: _expand(v, (*path, str(k)), env, base, secrets, problems, commands) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_expand(v, (*path, str(i)), env, base, secrets, problems, commands) for i, v in enumerate(obj)]
    if not isinstance(obj, str) or "${" not in obj:
        return obj

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        if expr.startswith("cmd:"):
            if not commands:  # reading the structure only: the command runs when the config is used
                return m.group(0)
            value, problem = run_secret_command(expr[4:].strip(), base)
            if problem:
                problems.append((path, problem))
                return ""
            assert value is not None
            secrets.add(value)
            return value
        if expr.startswith("file:"):
            file = (base / expr[5:]).expanduser()
            try:
                value = file.read_text(encoding="utf-8").strip()
            except OSError as e:
                problems.append((path, f"secret file {expr[5:]!r} cannot be read ({e.strerror})"))
                return ""
            secrets.add(value)
            return value
        name, _, default = expr.partition(":-")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            problems.append((path, f"bad variable reference ${{{expr}}}: expected ${{NAME}} or ${{NAME:-default}}"))
            return ""
        if name in env:
            value = env[name]
            if not plain_setting(name, path):
                secrets.add(value)
            return value
        if ":-" in expr:
            return default
        problems.append((path, f"environment variable {name} is not set"))
        return ""

    return _VAR.sub(sub, obj)


def env_references(text: str) -> list[str]:
    """The environment variables a config text needs: `${NAME}` without a default in its values (not its
    comments), in order of appearance."""
    names: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for v in obj.values():
                walk(v)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)
        elif isinstance(obj, str):
            for m in _VAR.finditer(obj):
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1)) and m.group(1) not in names:
                    names.append(m.group(1))

    with contextlib.suppress(yaml.YAMLError):  # load_config reports it
        walk(parse_yaml(text))
    return names


def resolve_url(url: str, base: Path) -> str:
    """Make a relative `sqlite:///` or `duckdb:///` URL absolute against `base`."""
    m = _FILE_URL.match(url)
    if not m:
        return url
    p = m.group("path")
    if not p or p.startswith((":memory:", "/")) or p.startswith("?"):
        return url
    rest = ""
    if "?" in p:
        p, rest = p.split("?", 1)
        rest = "?" + rest
    return f"{m.group('scheme')}:///{(base / p).resolve()}{rest}"


def resolve_path(p: str, base: Path) -> str:
    """Resolve a file path (or glob) relative to `base`."""
    path = Path(p).expanduser()
    return str(path if path.is_absolute() else base / path)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    wh = data.get("warehouse")
    if isinstance(wh, dict) and isinstance(wh.get("url"), str):
        wh["url"] = resolve_url(wh["url"], base)
    sources = data.get("sources")
    for src in (sources.values() if isinstance(sources, dict) else []):
        if not isinstance(src, dict):
            continue
        cfg = src.get("config")
        if isinstance(cfg, dict):
            if isinstance(cfg.get("url"), str):
                cfg["url"] = resolve_url(cfg["url"], base)
            if isinstance(cfg.get("path"), str) and src.get("connector") == "file":
                cfg["path"] = resolve_path(cfg["path"], base)
        streams = src.get("streams")
        for stream in (streams.values() if isinstance(streams, dict) else []):
            if isinstance(stream, dict) and isinstance(stream.get("path"), str):
                stream["path"] = resolve_path(stream["path"], base)
    engine = data.get("engine")
    if isinstance(engine, dict) and isinstance(engine.get("location"), str) and "://" not in engine["location"]:
        engine["location"] = resolve_path(engine["location"], base)
    marts = data.get("marts")
    if isinstance(marts, dict):
        for key in REFERENCE_FILES:
            ref = marts.get(key)
            if isinstance(ref, dict) and isinstance(ref.get("path"), str):
                ref["path"] = resolve_path(ref["path"], base)


def allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the config allows beside the last element of `loc` (a pydantic error's location): the fields of the
    model holding it, found by walking `HubConfig`'s fields (through mappings, lists and optional values)."""
    node: Any = HubConfig
    for part in loc[:-1]:
        if get_origin(_unwrapped(node)) in (dict, list, Mapping):  # `part` is a key or index of it
            node = get_args(_unwrapped(node))[-1]
            continue
        model = _model_of(node)
        field = None if model is None else model.model_fields.get(str(part)) or next(
            (f for f in model.model_fields.values() if f.alias == str(part)), None)
        if field is None:
            return []
        node = field.annotation
    model = _model_of(node)
    return sorted(f.alias or n for n, f in model.model_fields.items()) if model is not None else []


def _unwrapped(tp: Any) -> Any:
    """`X` of `X | None`."""
    args = [a for a in get_args(tp) if a is not type(None)] if get_origin(tp) in (Union, UnionType) else []
    return args[0] if len(args) == 1 else tp


def _model_of(tp: Any) -> type[BaseModel] | None:
    tp = _unwrapped(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _describe(err: Mapping[str, Any]) -> str:
    t, msg = err["type"], err["msg"]
    if t == "extra_forbidden":
        loc = tuple(err["loc"])
        hint = did_you_mean(str(loc[-1]), allowed_keys(loc)) if loc else ""
        return f"unknown key (not allowed here; check the spelling{hint.replace(';', ':', 1) if hint else ''})"
    if t == "missing":
        return "required key is missing"
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    inp = err.get("input")
    if t != "value_error" and not isinstance(inp, dict | list):
        return f"{msg}, got {inp!r}"
    return msg


def keep_sources(data: dict[str, Any], keep: Callable[[str, dict[str, Any]], bool]) -> dict[str, Any]:
    """A config mapping (as parsed from YAML) with only the sources `keep(name, source)` accepts, and without the
    others' mentions: `marts.order_status` and `mdm.customer.source_priority` name configured sources only."""
    data["sources"] = {n: s for n, s in (data.get("sources") or {}).items() if keep(n, s)}
    marts = data.get("marts") or {}
    if "order_status" in marts:
        marts["order_status"] = {n: s for n, s in marts["order_status"].items() if n in data["sources"]}
    customer = (data.get("mdm") or {}).get("customer") or {}
    if "source_priority" in customer:
        customer["source_priority"] = [n for n in customer["source_priority"] if n in data["sources"]]
    return data


def load_config(path: str | Path, env: Mapping[str, str] | None = None,
                warehouse_url: str | None = None, commands: bool = True) -> HubConfig:
    """Read, expand, resolve and validate a hub configuration file.

    `warehouse_url` (or the HUB_WAREHOUSE_URL environment variable) overrides `warehouse.url`. `commands`: run the
    `${cmd:…}` secret commands (False leaves them as written, for reading the structure only).
    """
    env = os.environ if env is None else env
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, [("", "file not found", None)]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, [("", f"cannot be read: {e}", None)]) from None
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(path, [("", f"not valid YAML: {getattr(e, 'problem', e)}",
                                  mark.line + 1 if mark else None)]) from None
    lines = _line_index(text)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(path, [("", "expected a mapping with `warehouse`, `sources`, `mdm`", 1)])
    base = path.resolve().parent
    secrets: set[str] = set()
    problems: list[tuple[tuple[str, ...], str]] = []
    data = _expand(data, (), env, base, secrets, problems, commands)
    if problems:
        raise ConfigError(path, [(".".join(p), m, lines.get(p)) for p, m in problems])
    override = warehouse_url or env.get("HUB_WAREHOUSE_URL")
    if override:
        data.setdefault("warehouse", {})
        if isinstance(data["warehouse"], dict):
            data["warehouse"]["url"] = override
    _resolve_paths(data, base)
    _encode_credentials(data, secrets)
    try:
        cfg = HubConfig.model_validate(data)
    except ValidationError as e:
        out = []
        for err in e.errors():
            loc = tuple(str(x) for x in err["loc"])
            line = None
            for i in range(len(loc), -1, -1):
                if loc[:i] in lines:
                    line = lines[loc[:i]]
                    break
            out.append((".".join(loc), _describe(err), line))
        raise ConfigError(path, [(p, mask(m, secrets), line) for p, m, line in out]) from None
    cfg._path = path.resolve()
    cfg._secret_values = {s for s in secrets if len(s) >= MIN_LENGTH}
    register(cfg._secret_values)
    return cfg


_HOST_TAIL = re.compile(r"[\w.\-\[\]%]*(:\d*)?(/|\?|$)")


def encode_url_credentials(url: str) -> tuple[str, str | None]:
    """A database URL with its user and password percent-encoded, and the password as written (None without one).

    A password holding `@`, `/`, `#` or `:` (as it is written, or from `${VAR}`) breaks a URL: its tail becomes the
    host, and shows up in error messages. The userinfo ends at the last `@` followed by a host (and port) and the
    path, query or end; an already encoded password stays as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest or "${" in rest:  # (a placeholder left for later: the structure only)
        return url, None
    at = next((m.start() for m in reversed(list(re.finditer("@", rest))) if _HOST_TAIL.match(rest, m.start() + 1)),
              None)
    if at is None or "?" in rest[:at] or "=" in rest[:at]:  # an @ in a query, not credentials
        return url, None
    user, colon, password = rest[:at].partition(":")
    plain = unquote(password) if colon else None
    userinfo = quote(unquote(user), safe="") + (":" + quote(unquote(password), safe="") if colon else "")
    return f"{scheme}://{userinfo}{rest[at:]}", plain


def _encode_credentials(data: dict[str, Any], secrets: set[str]) -> None:
    """Percent-encode the credentials of the warehouse URL and of every sql source's URL, in place; their
    passwords (as written and encoded) become secrets, masked in logs, errors and the warehouse."""
    sources = data.get("sources")
    holders = [data.get("warehouse")] + [s.get("config") for s in (sources.values() if isinstance(sources, dict)
                                                                     else ()) if isinstance(s, dict)
                                         and s.get("connector") == "sql"]
    for holder in holders:
        if isinstance(holder, dict) and isinstance(holder.get("url"), str):
            holder["url"], password = encode_url_credentials(holder["url"])
            if password:
                secrets.update({password, quote(password, safe="")})
