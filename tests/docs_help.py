"""Run many command lines of our Python scripts in one process (imports paid once), for tests/test_docs_commands.py.

stdin: a JSON list of [cwd, argv] (argv[0] a script path, or "torchrun"); stdout: a JSON list of [exit code, output]
in the same order. Each script runs as `python script args...` would (runpy as __main__, sys.argv set), so a command
ending in --help prints the script's own argparse help.
"""
import contextlib
import io
import json
import os
import runpy
import sys
import traceback


def run(cwd: str, argv: list[str]) -> tuple[int, str]:
    out, here, saved_argv = io.StringIO(), os.getcwd(), sys.argv
    code = 0
    try:
        os.chdir(cwd)
        sys.argv = list(argv)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            if argv[0] == "torchrun":      # torchrun's own flags, from the parser it uses
                from torch.distributed.run import get_args_parser
                get_args_parser().parse_args(argv[1:])
            else:
                runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:               # noqa: BLE001 - reported to the test with its traceback
        code = 1
        out.write(traceback.format_exc())
    finally:
        sys.argv = saved_argv
        os.chdir(here)
    return code, out.getvalue()


if __name__ == "__main__":
    jobs = json.load(sys.stdin)
    json.dump([run(cwd, argv) for cwd, argv in jobs], sys.stdout)
