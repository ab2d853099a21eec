"""The package's own error types: what a script reports as one `error: ...` line (synvid.cli.command). Anything
else (CUDA out of memory, an NCCL RuntimeError, a bug) is not one of these and keeps its traceback.

Each kind also derives from the built-in type callers already catch (ValueError, FileNotFoundError,
RuntimeError), so `except ValueError` around a synvid call still sees a bad input.
"""


class SynvidError(Exception):
    """Base of every error synvid raises on purpose; the message is written for the user."""


class BadInput(SynvidError, ValueError):
    """An argument, setting or file content that cannot be used (unknown name, wrong layout, other settings)."""


class MissingInput(SynvidError, FileNotFoundError):
    """A file or folder the run needs is absent (a data root, a split file, an unfinished upstream run)."""


class UnknownName(SynvidError, KeyError):
    """A name that is not in a registry."""

    def __str__(self) -> str:          # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CheckpointError(SynvidError, RuntimeError):
    """A checkpoint file that cannot be read or does not fit the model; the message names the file."""


class VideoReadError(SynvidError, RuntimeError):
    """A video that does not exist, cannot be decoded, or has no frames. The message names the file."""


class NonFiniteLossError(SynvidError, RuntimeError):
    """The loss became NaN or inf; the run stops and keeps its last good checkpoint."""


class ShortDataError(SynvidError, RuntimeError):
    """A training run's batches ended before its steps did; the run stops unfinished instead of skipping DONE."""


class MainRankError(SynvidError, RuntimeError):
    """Work done by rank 0 alone (a checkpoint save, DONE) failed; every rank stops with its message."""
