"""A core install (`pip install customer-hub`, no extras) runs `hub run`; the faces that need an extra say which.

The core is proved in a subprocess where the extras' modules (Dagster, the console's web framework, the fakes'
server) cannot be imported, as if they were not installed: a meta-path finder in a `sitecustomize` refuses them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from hub.extras import EXTRAS
from warehouse.engine import Warehouse

REPO = Path(__file__).resolve().parents[1]
# jinja2 is in the console extra for its templates, but airbyte-cdk (core) needs it too: a core install has it.
BLOCKED = sorted({m for modules in EXTRAS.values() for m in modules} - {"jinja2"})
CORE_PACKAGES = ["hub", "connectors", "mdm", "pipelines", "predict", "warehouse"]
NOT_CORE = ("hub.console", "hub.users", "connectors.fakes")  # the console extra, the demo extra

SITECUSTOMIZE = f"""
import sys

BLOCKED = {set(BLOCKED)!r}


class NotInstalled:
    \"\"\"Finds the extras' modules as absent, as in an install without them.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (not in a core install)", name=name)
        return None


sys.meta_path.insert(0, NotInstalled())
"""

IMPORT_CORE = f"""
import importlib, pkgutil, sys


def walk(package):
    module = importlib.import_module(package)
    yield package
    for info in pkgutil.iter_modules(getattr(module, "__path__", [])):
        name = package + "." + info.name
        if not name.startswith({NOT_CORE!r}):
            yield from walk(name)


imported = [name for package in {CORE_PACKAGES!r} for name in walk(package)]
for name in {BLOCKED!r}:
    assert name not in sys.modules, name
print("\\n".join(imported))
"""


def core_python(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python ARGS` with the extras' modules unimportable."""
    site = tmp_path / "core-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run([sys.executable, *args], cwd=cwd or tmp_path, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)


def test_the_blocker_really_hides_the_extras(tmp_path: Path) -> None:
    done = core_python(tmp_path, "-c", "import dagster")
    assert done.returncode == 1 and "No module named 'dagster' (not in a core install)" in done.stderr
    done = core_python(tmp_path, "-c", "import fastapi.routing")
    assert done.returncode == 1 and "No module named 'fastapi' (not in a core install)" in done.stderr


def test_every_core_module_imports_without_the_extras(tmp_path: Path) -> None:
    done = core_python(tmp_path, "-c", IMPORT_CORE)
    assert done.returncode == 0, done.stderr
    on_disk = {".".join(f.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
               for package in CORE_PACKAGES for f in (REPO / package).rglob("*.py")}
    assert set(done.stdout.split()) == {m for m in on_disk if not m.startswith(NOT_CORE)}


def test_hub_run_runs_without_the_extras(demo_project: Path, tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'core.duckdb'}"
    done = core_python(tmp_path, "-c", "import sys; from hub.cli import main; sys.exit(main())",
                       "run", "-c", str(demo_project), "--warehouse", url, cwd=demo_project.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    wh = Warehouse(url)
    with wh.begin() as c:
        customers = c.exec_driver_sql("SELECT count(*) FROM staging.customer").scalar()
        xref = c.exec_driver_sql("SELECT count(*) FROM mdm.xref").scalar()
        dim = c.exec_driver_sql("SELECT count(*) FROM marts.dim_customer").scalar()
        golden = c.exec_driver_sql("SELECT count(*) FROM mdm.golden_customer").scalar()
    assert customers == xref > 0 and dim == golden > 0


@pytest.mark.parametrize(("args", "extra"), [
    (["ui", "-c", "hub.yaml"], "console"),
    (["users", "add", "-c", "hub.yaml", "li.wang", "--role", "admin", "--password-stdin"], "console"),
    (["fakes", "serve", "wecom"], "demo"),
    (["demo", "generate", "--out", "data"], "demo"),
])
def test_a_face_without_its_extra_names_what_to_install(tmp_path: Path, args: list[str], extra: str) -> None:
    (tmp_path / "hub.yaml").write_text("warehouse: {url: 'duckdb:///w.duckdb'}\n", encoding="utf-8")
    done = core_python(tmp_path, "-c", "import sys; from hub.cli import main; sys.exit(main())", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"install it with: pip install 'customer-hub[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


def _closure(requirements: list[str]) -> set[str]:
    """The distributions a list of requirements installs here, transitively (no extras of theirs)."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        todo.extend(Requirement(r) for r in metadata.requires(req.name) or [])
    return seen


def test_a_core_install_does_not_pull_in_the_extras() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = _closure(project["dependencies"])
    extras = project["optional-dependencies"]
    faces = {Requirement(r).name.lower() for name in ("console", "dagster", "demo") for r in extras[name]}
    assert faces >= {"dagster", "fastapi", "starlette", "uvicorn", "argon2-cffi", "itsdangerous"}
    # jinja2 is the one face dependency the core has anyway (airbyte-cdk's templates)
    assert core & faces == {"jinja2"}


def test_starting_a_run_imports_no_matching_library_until_there_is_something_to_match() -> None:
    """`hub run`'s modules load without SciPy, scikit-learn or recordlinkage (seconds of start-up): a nightly run
    with nothing new never imports them; clustering and comparing import them on first use."""
    code = ("import sys, hub.cli.run, pipelines.run\n"
            "print(sorted(m for m in ('scipy', 'sklearn', 'recordlinkage') if m in sys.modules))\n"
            "from mdm.cluster import components\n"
            "import numpy as np\n"
            "print(components(3, np.array([0]), np.array([1])).tolist(), 'scipy' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "[0, 0, 1] True"]
