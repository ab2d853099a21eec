"""Every command shown in README.md and docs/*.md names a script that exists and only flags that script has, and runs.

Shown commands are the lines of ```bash blocks (whole commands), the command lines of ```text blocks (synopses such
as `bash run_all.sh [--profile ...]`) and inline code spans that name one of our scripts with flags. Each one:
- its script exists, and every --flag it uses appears in that script's --help (torchrun's own flags in torchrun's);
- a whole command of a Python script runs with --help appended (its values parse up to there), run_all.sh commands
  run with --dry-run, and the few fast ones listed in REAL run for real in a scratch folder;
- synopses, inline fragments and commands with placeholders (`...`, `…`, `[`) are checked for script and flags only.
All Python command lines run in one helper process (tests/docs_help.py), so each script's imports are paid once; so
do every numbered entry script's --help and an unknown flag (refused with an error). The run_all.sh dry runs start
bash and Python processes: they are `slow` (bash tests/run.sh --all). Also: every docs/ page is linked from the
README, links and heading anchors between the pages resolve, and .ci/run runs the README's first two commands, the
tests with --all.
"""
import functools
import importlib
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SCRIPT_DIRS = ("data_gen", "pretrain", "finetune", "linprobe", "analysis", "paper_tables", "benchmarks")
SCRIPTS = {p.relative_to(ROOT).as_posix() for d in SCRIPT_DIRS for p in (ROOT / d).glob("*.py")} | {
    "run_all.sh", "tests/run.sh", "benchmarks/device_run.sh", "benchmarks/device_setup.sh"}
# the numbered entry scripts (benchmarks aside): each one's --help works and an unknown flag is refused
ENTRY_SCRIPTS = sorted(p.relative_to(ROOT).as_posix() for d in SCRIPT_DIRS if d != "benchmarks"
                       for p in (ROOT / d).glob("*.py"))
# bash scripts that cannot run inside the test suite, and the only flags they may be shown with
NOT_RUN = {"tests/run.sh": ("the test suite itself", {"--all"}), "benchmarks/device_run.sh": ("needs a CUDA GPU", set())}
# commands fast enough to run for real (in a scratch folder that links the script folders)
REAL = (re.compile(r"python data_gen/3_1_generate\.py --list$"),
        re.compile(r"python data_gen/4_0_make_toy\.py --dataset toy_\w+ --out \S+$"))
# programs of shown command lines that are not ours (shell built-ins, cluster tools)
EXTERNAL = {"export", "conda", "pip", "scontrol", "cd", "mkdir"}
PLACEHOLDERS = ("...", "…", "[", "<")
FLAG = re.compile(r"(?<![\w-])--[A-Za-z0-9][\w-]*")


@dataclass(frozen=True)
class Shown:
    doc: str        # README.md or docs/x.md
    line: int
    text: str       # the command as shown (continuations joined, comment removed)
    whole: bool     # a whole command of a ```bash block (else a synopsis or an inline fragment)

    @property
    def runnable(self) -> bool:
        """A whole command of a bash block, or an inline `python ...` one, without placeholders."""
        python = re.match(r"(\w+=\S+ )*(python|torchrun) ", self.text)
        return (self.whole or bool(python)) and not any(p in self.text for p in PLACEHOLDERS)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}: {self.text[:90]}"


def _commands_of_block(doc: str, start: int, lines: list[str], whole: bool) -> list[Shown]:
    shown, buffer, first = [], "", 0
    for offset, line in enumerate(lines):
        if not buffer:
            first = start + offset
        buffer += line.rstrip()
        if buffer.endswith("\\"):
            buffer = buffer[:-1] + " "
            continue
        text = " ".join(shlex.split(buffer, comments=True)) if whole else buffer.strip()
        buffer = ""
        if text and (whole or text.split()[0] in ("python", "bash", "torchrun")):
            shown.append(Shown(doc, first, text, whole))
    return shown


def _inline(doc: str, text: str) -> list[Shown]:
    """Inline code spans that name one of our scripts and use flags (or start with python/bash/torchrun)."""
    shown = []
    for match in re.finditer(r"(?<!`)`([^`]+)`(?!`)", text):
        span = " ".join(match.group(1).split())
        starts = span.split()[0] in ("python", "bash", "torchrun") or re.match(r"\w+=\S+ python ", span)
        script = re.search(r"\.(py|sh)\b", span)
        if (starts and (script or FLAG.search(span))) or (script and FLAG.search(span)):
            shown.append(Shown(doc, text.count("\n", 0, match.start()) + 1, span, False))
    return shown


@functools.cache
def shown_commands() -> list[Shown]:
    shown = []
    for path in DOCS:
        doc, lines = path.relative_to(ROOT).as_posix(), path.read_text().splitlines()
        prose, block, language = [], None, ""
        for number, line in enumerate(lines, 1):
            if line.startswith("```"):
                if block is None:
                    block, language = [], line[3:].strip()
                else:
                    if language in ("bash", "sh", "text"):
                        shown += _commands_of_block(doc, number - len(block), block, language != "text")
                    block = None
                prose.append("")
            elif block is not None:
                block.append(line)
                prose.append("")
            else:
                prose.append(line)
        shown += _inline(doc, "\n".join(prose))
    return shown


def _script_of(tokens: list[str]) -> tuple[str | None, list[str], list[str]]:
    """(repo script, launcher flags, script arguments) of one shown command; script None for external programs."""
    while tokens and re.match(r"^\w+=", tokens[0]) and not tokens[0].count("$("):
        tokens = tokens[1:]                                   # VAR=value prefixes
    if not tokens or tokens[0] in EXTERNAL or re.match(r"^\w+=\$\(", tokens[0]):
        return None, [], []
    if tokens[0] == "srun":
        tokens = tokens[tokens.index("torchrun"):]
    launcher = []
    if tokens[0] == "torchrun":
        script_at = next((i for i, t in enumerate(tokens) if t.endswith(".py")), len(tokens))
        launcher, tokens = tokens[1:script_at], ["python", *tokens[script_at:]]
        if len(tokens) == 1:                                  # torchrun's own flags only
            return None, launcher, []
    if tokens[0] in ("python", "bash"):
        tokens = tokens[1:]
    name = tokens[0]
    if name not in SCRIPTS:                                   # a fragment naming the script by its file name
        matches = [s for s in SCRIPTS if s.rsplit("/", 1)[-1] == name]
        name = matches[0] if len(matches) == 1 else name
    return name, launcher, tokens[1:]


def _flags(arguments: list[str]) -> set[str]:
    return {flag for token in arguments for flag in FLAG.findall(token.split("=")[0])}


def _fake_inputs(tmp: Path) -> dict:
    """Existing (empty) inputs for the paper profiles, enough for run_all.sh --dry-run (as tests/test_entry_points)."""
    for folder in ("ucf/UCF-101", "hmdb", "imagenet", "k400"):
        (tmp / folder).mkdir(parents=True, exist_ok=True)
    for name in ("inception.pth", "i3d.pt"):
        (tmp / name).write_bytes(b"")
    python_bin = str(Path(sys.executable).parent)
    return {"PATH": f"{python_bin}:/usr/bin:/bin", "VIRTUAL_ENV": sys.prefix, "HOME": str(tmp),
            "PYTHONPATH": str(ROOT), "UCF101_ROOT": str(tmp / "ucf"), "HMDB51_ROOT": str(tmp / "hmdb"),
            "IMAGENET_ROOT": str(tmp / "imagenet"), "INCEPTION_WEIGHTS": str(tmp / "inception.pth"),
            "I3D_WEIGHTS": str(tmp / "i3d.pt")}


def _scratch(tmp: Path) -> Path:
    """A folder whose script folders link to ours, so relative --out paths of real runs land outside the repo."""
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    for name in (*SCRIPT_DIRS, "scripts"):
        if not (scratch / name).exists():
            (scratch / name).symlink_to(ROOT / name)
    return scratch


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict:
    """Every Python command line the tests need, run once in one helper process: {(cwd kind, argv): (rc, output)}."""
    tmp = tmp_path_factory.mktemp("docs_commands")
    scratch, jobs = _scratch(tmp), {}
    for shown in shown_commands():
        script, launcher, arguments = _script_of(shlex.split(shown.text.replace("[", " ").replace("]", " ")))
        if script and script.endswith(".py") and script in SCRIPTS:
            jobs[(str(ROOT), (script, "--help"))] = None
            if shown.runnable:
                real = any(pattern.search(shown.text) for pattern in REAL)
                argv = (script, *arguments) if real else (script, *arguments, "--help")
                jobs[(str(scratch) if real else str(ROOT), argv)] = None
    for script in ENTRY_SCRIPTS:
        jobs[(str(ROOT), (script, "--help"))] = jobs[(str(ROOT), (script, "--no-such-flag"))] = None
    jobs[(str(ROOT), ("torchrun", "--help"))] = None
    keys = list(jobs)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "docs_help.py")], input=json.dumps(
        [[cwd, list(argv)] for cwd, argv in keys]), capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = dict(zip(keys, map(tuple, json.loads(done.stdout))))
    return {"results": results, "scratch": str(scratch), "env": _fake_inputs(tmp)}


@functools.cache
def _bash_help(script: str) -> str:
    out = subprocess.run(["bash", script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _dry_runs_run_all(shown: Shown) -> bool:
    """A shown run_all.sh command that the test runs with --dry-run (bash and Python processes: slow)."""
    tokens = shlex.split(shown.text.replace("[", " ").replace("]", " "))
    script, _, arguments = _script_of(tokens)
    return script == "run_all.sh" and shown.runnable and "--slurm" not in arguments


@pytest.mark.parametrize("shown", [pytest.param(s, marks=pytest.mark.slow) if _dry_runs_run_all(s) else s
                                   for s in shown_commands()], ids=lambda s: s.id)
def test_shown_command(shown: Shown, outcomes):
    tokens = shlex.split(shown.text.replace("[", " ").replace("]", " "))
    script, launcher, arguments = _script_of(tokens)
    results = outcomes["results"]
    if launcher:
        rc, helptext = results[(str(ROOT), ("torchrun", "--help"))]
        unknown = _flags(launcher) - set(FLAG.findall(helptext))
        assert not unknown, f"{shown.id}: torchrun has no flag {sorted(unknown)}"
    if script is None:
        assert shown.whole or launcher, f"{shown.id}: not a command of ours"
        return                                                # export, conda, scontrol: not ours to check
    assert script in SCRIPTS and (ROOT / script).is_file(), f"{shown.id}: no script {script}"
    if script in NOT_RUN:
        why, allowed = NOT_RUN[script]
        assert _flags(arguments) <= allowed, f"{shown.id}: {script} ({why}) takes no flags but {sorted(allowed)}"
        return
    if script.endswith(".sh"):
        helptext = _bash_help(script)
    else:
        rc, helptext = results[(str(ROOT), (script, "--help"))]
        assert rc == 0, f"{script} --help failed:\n{helptext}"
    unknown = _flags(arguments) - set(FLAG.findall(helptext))
    assert not unknown, f"{shown.id}: {script} has no flag {sorted(unknown)}"
    if not shown.runnable or script == "benchmarks/device_setup.sh":   # --download needs PyPI: flags checked only
        return
    if script == "run_all.sh":
        if "--slurm" in arguments:                            # the SLURM plan's dry run: tests/test_slurm.py
            return
        dry = [] if "--dry-run" in arguments else ["--dry-run"]
        out = subprocess.run(["bash", script, *arguments, *dry], cwd=ROOT, capture_output=True, text=True,
                             timeout=120, env=outcomes["env"])
        assert out.returncode == 0, f"{shown.id}:\n{out.stderr[-2000:]}"
        assert "## stage" in out.stdout
        return
    real = any(pattern.search(shown.text) for pattern in REAL)
    key = (outcomes["scratch"], (script, *arguments)) if real else (str(ROOT), (script, *arguments, "--help"))
    rc, output = results[key]
    assert rc == 0, f"{shown.id}{'' if real else ' --help'} failed:\n{output[-3000:]}"


@pytest.mark.parametrize("script", ENTRY_SCRIPTS)
def test_entry_script_help_and_bad_arguments(script, outcomes):
    rc, output = outcomes["results"][(str(ROOT), (script, "--help"))]
    assert rc == 0 and "usage:" in output, output[-2000:]
    rc, output = outcomes["results"][(str(ROOT), (script, "--no-such-flag"))]
    assert rc != 0 and "error" in output.lower(), output[-2000:]


def test_readme_is_a_front_page_that_links_every_page():
    """The README stays a front page (<= 350 lines); the per-section reference lives in docs/."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 350
    for path in DOCS[1:]:
        assert f"(docs/{path.name})" in readme, f"README does not link docs/{path.name}"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}


def test_links_between_the_pages_resolve():
    for path in DOCS:
        text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"https?://", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{path.name}: broken link {target}"
            if anchor and linked.suffix == ".md":
                assert anchor in _anchors(linked), f"{path.name}: no heading #{anchor} in {linked.name}"


def test_ci_runs_the_two_commands_the_readme_shows_first():
    """.ci/run runs `the README's two commands`, the first block of README.md in that order, the tests with --all
    (the slow ones too), which the README names."""
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", readme, flags=re.S).group(1)
    commands = [" ".join(shlex.split(line, comments=True)) for line in first_block.splitlines()]
    assert commands == ["bash run_all.sh --profile smoke", "bash tests/run.sh"]
    assert "`bash tests/run.sh --all`" in readme
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    for command in (commands[0], commands[1] + " --all"):
        assert any(line == command or line.endswith(" " + command) for line in ci), command
    assert not any(line.endswith(" " + commands[1]) or line == commands[1] for line in ci)   # not the fast set only


JOB_NAMES = re.compile(r"^synvid\.(paper|authors|mini|smoke)\.")     # SLURM job names (docs/cluster.md), not code


def _python_blocks(text: str) -> list[str]:
    return [block.replace("\\\n", " ") for block in re.findall(r"```python\n(.*?)```", text, flags=re.S)]


def _names_of_block(block: str) -> set[str]:
    """Dotted names a ```python block uses: its imports, and attributes of the modules it imports under an alias."""
    aliases, names = {}, set()
    for line in block.splitlines():
        code = line.split("#")[0]
        if match := re.match(r"\s*from ([\w.]+) import (.+)", code):
            for item in match.group(2).split(","):
                name, _, alias = item.strip().partition(" as ")
                names.add(f"{match.group(1)}.{name}")
                aliases[(alias or name).strip()] = f"{match.group(1)}.{name}"
        elif match := re.match(r"\s*import ([\w.]+)(?: as (\w+))?", code):
            names.add(match.group(1))
            aliases[match.group(2) or match.group(1)] = match.group(1)
        for alias, dotted in aliases.items():
            names |= {f"{dotted}.{attr}" for attr in re.findall(rf"(?<![\w.]){re.escape(alias)}\.(\w+)", code)}
    return names


@functools.cache
def shown_names() -> list[tuple[str, str]]:
    """(doc, dotted name) for every `synvid.x.y` the pages show in code, and every name their ```python blocks use."""
    found = set()
    for path in DOCS:
        doc, text = path.relative_to(ROOT).as_posix(), path.read_text()
        spans = " ".join(re.findall(r"`[^`]+`", re.sub(r"```.*?```", "", text, flags=re.S)))
        found |= {(doc, name) for name in re.findall(r"\bsynvid(?:\.\w+)+", spans) if not JOB_NAMES.match(name)}
        found |= {(doc, name) for block in _python_blocks(text) for name in _names_of_block(block)}
    return sorted(found)


def _resolve(dotted: str):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
            break
        except ModuleNotFoundError:
            continue
    for attribute in parts[split:]:
        found = getattr(found, attribute)
    return found


@pytest.mark.parametrize("doc,name", shown_names(), ids=lambda x: x)
def test_shown_python_name_exists(doc, name):
    """A module, function or class the pages name still exists under that name (docs follow moved code)."""
    try:
        _resolve(name)
    except (ImportError, AttributeError) as missing:
        pytest.fail(f"{doc} shows {name}, which does not exist ({missing})")
