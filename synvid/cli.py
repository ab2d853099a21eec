"""The one error shell of the numbered scripts: `@command` on a script's `main`.

A synvid error (synvid.errors: bad or missing input, an unreadable checkpoint or video, a NaN loss) ends the script
with one `error: ...` line and exit status 1; everything else (CUDA out of memory, an NCCL RuntimeError, a bug)
propagates with its traceback, and `Preempted` (a SystemExit) keeps its status 75. The process group is destroyed
on every way out.
"""
from __future__ import annotations

import functools

from synvid import dist
from synvid.errors import SynvidError


def command(main):
    @functools.wraps(main)
    def shell(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except SynvidError as e:
            raise SystemExit(f"error: {e}") from e
        finally:
            dist.cleanup()
    return shell
