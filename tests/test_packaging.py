"""Packaging: pyproject.toml, environment.yml and scripts/bootstrap.sh tell one story; every
third-party package that synvid or a script imports is a runtime dependency; no line of synvid/ over 120 chars."""
import ast
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement   # packaging comes with pytest
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")          # Python >= 3.11 (environment.yml's 3.11)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT_DIRS = ("data_gen", "pretrain", "finetune", "linprobe", "analysis", "paper_tables", "benchmarks")
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = {canonicalize_name(Requirement(r).name): Requirement(r) for r in PROJECT["dependencies"]}


def _environment_pins() -> dict[str, str]:
    """name -> the version environment.yml pins or bounds it at (`- name==1.2`, `- name>=1.2`, `- python=3.11`)."""
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"\s*-\s*([A-Za-z0-9_.-]+)\s*(==|>=|=)\s*([0-9][^\s#]*)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[3]
    return pins


def test_environment_pins_every_dependency_compatibly():
    pins = _environment_pins()
    wanted = list(RUNTIME.values()) + [Requirement(r) for r in PROJECT["optional-dependencies"]["test"]]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} (pyproject.toml) is missing from environment.yml"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"environment.yml pins {req.name} {pins[name]}, outside pyproject's {req.specifier}"
    assert Requirement(f"python{PROJECT['requires-python']}").specifier.contains(pins["python"])


@pytest.mark.slow
def test_bootstrap_installs_the_environment_torch(tmp_path):
    """bootstrap.sh's default torch spec is environment.yml's exact torch/torchvision pins (a stub `python` that
    reports the environment ready, so nothing is installed)."""
    stub = tmp_path / "python"
    stub.write_text("#!/bin/sh\ncat >/dev/null\nexit 0\n")
    stub.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SYNVID_TORCH_SPEC"}
    env.update(PATH=f"{tmp_path}{os.pathsep}{env['PATH']}", VIRTUAL_ENV=str(tmp_path))
    out = subprocess.run(["bash", "-c", 'source scripts/bootstrap.sh && echo "$SYNVID_TORCH_SPEC"'], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True).stdout.split()
    pins = _environment_pins()
    assert out == [f"torch=={pins['torch']}", f"torchvision=={pins['torchvision']}"]
    for name in ("torch", "torchvision"):          # an exact pin, so that conda and bootstrap install the same
        assert re.search(rf"^\s*- {name}=={re.escape(pins[name])}\s*$", (ROOT / "environment.yml").read_text(), re.M)


def _third_party_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"synvid", "__future__"}


def test_runtime_imports_are_runtime_dependencies():
    """Module- and function-level imports of synvid/ and the scripts come from pyproject's `dependencies`
    (not from the test extra)."""
    files = [*(ROOT / "synvid").rglob("*.py"), *(p for d in SCRIPT_DIRS for p in (ROOT / d).rglob("*.py"))]
    provided = importlib.metadata.packages_distributions()
    for path in files:
        for module in _third_party_imports(path):
            dists = {canonicalize_name(d) for d in provided.get(module, [])}
            assert dists & set(RUNTIME), f"{path.relative_to(ROOT)} imports {module} ({dists or 'not installed'}), " \
                                         "which pyproject.toml does not list as a runtime dependency"


def test_no_library_line_over_120_characters():
    long = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "synvid").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if len(line) > 120]
    assert not long, f"lines over 120 characters: {long}"


def test_bootstrap_checks_every_runtime_dependency():
    """bootstrap.sh re-installs an environment that lacks any runtime dependency: its import list covers them."""
    listed = re.search(r"for name in \(([^)]*)\)", (ROOT / "scripts" / "bootstrap.sh").read_text())[1]
    provided = importlib.metadata.packages_distributions()
    covered = {canonicalize_name(d) for m in re.findall(r'"(\w+)"', listed) for d in provided.get(m, [])}
    assert set(RUNTIME) <= covered, f"bootstrap.sh does not import {sorted(set(RUNTIME) - covered)}"


def _device_pairs(name: str) -> dict[str, str]:
    text = (ROOT / "benchmarks" / "device_setup.sh").read_text().replace("\\\n", "")
    return dict(p.split(":") for p in re.search(rf'^{name}="([^"]*)"', text, re.M)[1].split())


def test_device_setup_covers_every_runtime_dependency():
    """The accelerator machine runs its own python3 offline: device_setup.sh checks every runtime dependency, and
    carries at least those that machine lacks (decord, av)."""
    pairs = {**_device_pairs("CARRIED"), **_device_pairs("EXPECTED")}
    assert set(RUNTIME) <= {canonicalize_name(d) for d in pairs.values()}
    assert {"decord", "av"} <= set(_device_pairs("CARRIED").values())
    run = (ROOT / "benchmarks" / "device_run.sh").read_text()
    assert "source benchmarks/device_setup.sh" in run and "bootstrap.sh" not in run     # never a new venv there


@pytest.mark.slow
def test_device_setup_uses_the_given_python_and_installs_nothing_it_has(tmp_path):
    """With every package importable, the set-up keeps the machine's python, installs nothing, misses nothing."""
    script = (f'export SYNVID_PYTHON="{sys.executable}" DEVICE_WHEELS="{tmp_path}"; source benchmarks/device_setup.sh; '
              'echo "python=$SYNVID_PYTHON"; echo "missing=$DEVICE_MISSING"')
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"python={sys.executable}" in done.stdout and "missing=\n" in done.stdout + "\n"
    assert "installing" not in done.stderr
