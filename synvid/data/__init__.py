"""Datasets on disk: list files, official splits, clip sampling."""
