"""Feature extractors, frame sources and caching for the Section 5 dataset statistics (PROTOCOLS §5)."""
from pathlib import Path

from synvid.errors import MissingInput


def require_file(path, need: str, hint: str) -> Path:
    """Fail before any expensive work when a weights file is not given or missing; the message names it."""
    if not path:
        raise MissingInput(f"{need}: pass {hint}")
    if not Path(path).is_file():
        raise MissingInput(f"{need}: file not found at {path}; expected {hint}")
    return Path(path)
