"""Rasteriser, dynamics and on-the-fly streaming for the synthetic progression (Section 3.1)."""
