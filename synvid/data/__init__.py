"""Datasets on disk: list files, official splits, clip sampling."""
from synvid.data.sampling import clip_indices  # noqa: E402,F401  (public: synvid.data.clip_indices)
