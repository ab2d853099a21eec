"""The scripts' one error shell (synvid.cli.command): synvid's own errors become one `error: ...` line and
exit status 1; anything else (an OOM, an NCCL RuntimeError, a bug) keeps its type and traceback; Preempted keeps 75;
the process group is destroyed on every way out."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from synvid import cli, dist, errors
from synvid.engine.common import PREEMPTED_EXIT, Preempted
from synvid.errors import CheckpointError, MainRankError, NonFiniteLossError, VideoReadError

ROOT = Path(__file__).resolve().parents[1]


def test_error_types_keep_their_builtin_bases():
    for kind, base in ((errors.BadInput, ValueError), (errors.MissingInput, FileNotFoundError),
                       (errors.UnknownName, KeyError), (CheckpointError, RuntimeError), (VideoReadError, RuntimeError),
                       (NonFiniteLossError, RuntimeError), (MainRankError, RuntimeError)):
        assert issubclass(kind, errors.SynvidError) and issubclass(kind, base), kind
    assert str(errors.UnknownName("unknown 'x'")) == "unknown 'x'"          # not quoted as a KeyError would be


def _shell(raised, monkeypatch):
    cleaned = []
    monkeypatch.setattr(dist, "cleanup", lambda: cleaned.append(1))

    @cli.command
    def main(args):
        raise raised
    return main, cleaned


@pytest.mark.parametrize("raised", [errors.BadInput("bad --x"), errors.MissingInput("no file y"),
                                    CheckpointError("z.pth does not fit"), VideoReadError("v.avi unreadable")])
def test_package_errors_become_one_line(raised, monkeypatch):
    main, cleaned = _shell(raised, monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(None)
    assert exit_info.value.code == f"error: {raised}" and cleaned == [1]


@pytest.mark.parametrize("raised", [RuntimeError("CUDA out of memory"), ValueError("a bug"), KeyError("k")])
def test_other_errors_propagate_unchanged(raised, monkeypatch):
    main, cleaned = _shell(raised, monkeypatch)
    with pytest.raises(type(raised)) as info:
        main(None)
    assert info.value is raised and cleaned == [1]


def test_preempted_keeps_its_exit_status(monkeypatch):
    main, cleaned = _shell(Preempted(3, "run"), monkeypatch)
    with pytest.raises(SystemExit) as exit_info:
        main(None)
    assert exit_info.value.code == PREEMPTED_EXIT and cleaned == [1]


@pytest.mark.slow
def test_script_bad_input_is_one_line_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "data_gen/4_0_write_list.py"), "--dataset", "ucf101",
                          "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "list.csv")],
                         capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("error: ") and len(out.stderr.strip().splitlines()) == 1, out.stderr


def _script(rel):
    import importlib.util
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return lambda *argv: module.main(module.get_args_parser().parse_args(list(argv)))


def test_toy_and_list_scripts_call_the_library(tmp_path, capsys):
    from synvid.data import registry
    from synvid.runs import read_done
    root = tmp_path / "toy"
    make = _script("data_gen/4_0_make_toy.py")
    make("--dataset", "toy_ucf101", "--out", str(root), "--num-classes", "2", "--frames", "8")
    done = read_done(root)   # the whole recipe: the maker's defaults with the flags given over them
    assert (done["dataset"], done["num_classes"], done["frames"], done["groups"]) == ("toy_ucf101", 2, 8, 4)
    assert json.loads((root / "config.json").read_text())["recipe"] == {k: v for k, v in done.items() if k != "dataset"}
    make("--dataset", "toy_ucf101", "--out", str(root), "--num-classes", "2", "--frames", "8")
    assert "is done; skipping" in capsys.readouterr().out
    _script("data_gen/4_0_write_list.py")("--dataset", "toy_ucf101", "--data-root", str(root), "--subset", "test",
                                          "--out", str(tmp_path / "test.csv"))
    items, _ = registry.load("toy_ucf101", root, "test")
    want = "".join(f"{Path(p).resolve()} {label}\n" for p, label in items)
    assert (tmp_path / "test.csv").read_text() == want
