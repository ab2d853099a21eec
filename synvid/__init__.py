"""synvid: reproduce "Learning Video Representations without Natural Videos" (Yu, Chen, Gandelsman, 2024)."""
__version__ = "0.1.0"
