"""Time the UCF101-P corruptions where the evaluation applies them (PROTOCOLS §4.3, Q13) on CPU.

Per view (default): the 12 pixel corruptions on one uint8 test view [16, 224, 224, 3], as `robustness.ViewCorruption`
calls them (15 views per test video). Whole video: the 2 codecs on one decoded UCF101-sized video (150 x 240 x 320).
Prints best and median ms over --repeats calls (after one warm-up call) and the cost of all 14 on the UCF101 test split.

    python benchmarks/bench_corruptions.py --threads 1 --repeats 5            # both modes
    python benchmarks/bench_corruptions.py --mode view --names zoom_blur glass_blur
"""
import argparse
import os
import platform
import statistics
import time

import torch

VIEWS_PER_VIDEO = 15      # 5 clips x 3 crops (PROTOCOLS §2.4)
TEST_VIDEOS = 3783        # UCF101 split-1 test set


def smooth_video(frames: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """uint8 [T, H, W, 3] with image-like smooth content (random colours on an 8x coarser grid, bilinear upsampled);
    pure noise would make jpeg and the codecs slower than on real video."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(frames, 3, max(2, height // 8), max(2, width // 8), generator=g)
    fine = torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    return (fine * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def time_ms(fn, repeats: int) -> tuple[float, float]:
    fn(0)  # warm-up: first-call allocation and kernel selection
    times = []
    for seed in range(1, repeats + 1):
        start = time.perf_counter()
        fn(seed)
        times.append((time.perf_counter() - start) * 1e3)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["view", "video", "both"], default="both")
    parser.add_argument("--frames", type=int, default=16, help="frames per view")
    parser.add_argument("--crop", type=int, default=224, help="view side")
    parser.add_argument("--video-shape", type=int, nargs=3, default=[150, 240, 320], metavar=("T", "H", "W"))
    parser.add_argument("--severity", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--names", nargs="+", default=None)
    args = parser.parse_args()
    from synvid import corruptions

    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    unknown = [n for n in args.names or () if n not in corruptions.NAMES]
    if unknown:
        parser.error(f"unknown corruption(s) {unknown}; choose from {', '.join(corruptions.NAMES)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    names = args.names or corruptions.NAMES
    print(f"machine: {' '.join(filter(None, (platform.machine(), platform.processor())))}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads; severity {args.severity}; "
          f"best / median of {args.repeats} ms")
    per_view, per_video = {}, {}
    if args.mode in ("view", "both"):
        view = smooth_video(args.frames, args.crop, args.crop)
        print(f"per view [{args.frames}, {args.crop}, {args.crop}, 3]:")
        for name in (n for n in names if n in corruptions.PER_VIEW):
            best, median = time_ms(lambda s: corruptions.apply(name, view, args.severity, s), args.repeats)
            per_view[name] = median
            print(f"  {name:16s} {best:8.1f} {median:8.1f} ms/view")
    if args.mode in ("video", "both"):
        video = smooth_video(*args.video_shape)
        print(f"whole video {list(video.shape)}:")
        for name in (n for n in names if n in corruptions.WHOLE_VIDEO):
            best, median = time_ms(lambda s: corruptions.apply(name, video, args.severity, s), args.repeats)
            per_video[name] = median
            print(f"  {name:16s} {best:8.1f} {median:8.1f} ms/video")
    view_s = sum(per_view.values()) / 1e3 * VIEWS_PER_VIDEO * TEST_VIDEOS
    video_s = sum(per_video.values()) / 1e3 * TEST_VIDEOS
    print(f"estimate (medians, one process): {len(per_view)} per-view x {TEST_VIDEOS} videos x {VIEWS_PER_VIDEO} views "
          f"= {view_s / 3600:.2f} h + {len(per_video)} whole-video x {TEST_VIDEOS} videos = {video_s / 3600:.2f} h; "
          f"total {(view_s + video_s) / 3600:.2f} h (corruption only, no decoding or model)")


if __name__ == "__main__":
    main()
