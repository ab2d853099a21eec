"""Evaluate a fine-tuned UCF101 classifier on the 14 UCF101-P corruptions at every severity (paper Section 4.2,
Figure 3; PROTOCOLS.md §4.4-4.5).

    python finetune/4_2_eval_ucf101p.py --run runs/ft_ucf101 --p-root data/ucf101p --out runs/ucf101p/ours
    python finetune/4_2_eval_ucf101p.py --profile authors --run runs/ft_ucf101 --data-root data/UCF101 --out ...
    python finetune/4_2_eval_ucf101p.py --chart-only --compare ours=runs/ucf101p/ours/summary.json \
        videomae=runs/ucf101p/vm/summary.json --out runs/ucf101p/compare
--mode benchmark (paper profile) reads the 13 UCF101-P sets from --p-root (data_gen/4_2_make_ucf101p.py);
--mode hook (authors profile) corrupts each test view of --data-root (default: the --p-root manifest's source) and
takes the codecs from --p-root or re-encodes them on the fly. glass_blur acts per view in both modes.
Writes <out>/<corruption>/<severity>/results.json, <out>/summary.json (per severity, mean and the headline:
--headline, paper "mean", authors "1"), <out>/figure3.png (headline top-1 of this model plus --compare ones) and
the wins of the first model over each other one, over all corruptions and over the 13 UCF101-P sets (wins.json).
"""
import argparse


def get_args_parser() -> argparse.ArgumentParser:
    from synvid.config import RobustnessConfig, add_arguments, add_profile_argument
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--run", help="fine-tuning run directory (config.json + last.pth)")
    parser.add_argument("--label", default="model", help="name of this model in the chart")
    parser.add_argument("--p-root", help="UCF101-P tree written by data_gen/4_2_make_ucf101p.py")
    parser.add_argument("--data-root", help="clean UCF101 (default: the --p-root manifest's source)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--names", nargs="+", default=None, help="corruptions (default: all 14)")
    parser.add_argument("--device", default=None, help="default: cuda if available")
    parser.add_argument("--compare", nargs="*", default=[], metavar="LABEL=SUMMARY_JSON")
    parser.add_argument("--chart-only", action="store_true", help="only chart/count the --compare summaries")
    parser.add_argument("--allow-unfinished", action="store_true", help="accept a --run without DONE")
    add_arguments(parser, RobustnessConfig)
    return parser


def _evaluate(args, rcfg, names) -> tuple[dict, dict]:
    import torch

    from synvid import tables
    from synvid.engine.common import upstream
    from synvid.robustness import evaluate_ucf101p, load_finetuned
    if not args.run or not (args.p_root or args.data_root):
        raise ValueError("give --run and --p-root and/or --data-root (or --chart-only)")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model, ft_cfg, _ = load_finetuned(args.run, device, allow_unfinished=args.allow_unfinished)
    summary = evaluate_ucf101p(model, ft_cfg, rcfg, args.out, names=names, p_root=args.p_root,
                               data_root=args.data_root, num_segments=rcfg.num_segments, device=device)
    finetuned = tables.record_from_run(args.run)    # what the tables need to place this result
    record = {"task": "ucf101p", "corruptions": summary["top1"], "model": finetuned["model"],
              "pretrain_dataset": finetuned["pretrain_dataset"], "objective": finetuned["objective"],
              "dataset": ("toy_" if finetuned["toy"] else "") + finetuned["dataset"],
              **{k: summary[k] for k in ("mode", "severities", "headline", "seed", "tree", "effective_q")},
              "upstream": upstream(args.run, args.out, allow_unfinished=args.allow_unfinished)}
    return summary, record


def main(args: argparse.Namespace) -> dict:
    import json
    from pathlib import Path

    from synvid import corruptions
    from synvid.config import RobustnessConfig, from_args, save_config
    from synvid.robustness import bar_chart, check_names, wins
    from synvid.runs import atomic_write_json, mark_done
    from synvid.ucf101p_files import check_settings
    from synvid.video_io import VideoReadError
    try:
        rcfg = from_args(RobustnessConfig, args)
        check_settings(rcfg)
        names = check_names(args.names or corruptions.NAMES)
        models, record = {}, {}
        for spec in args.compare:
            label, sep, path = spec.partition("=")
            if not sep or not Path(path).is_file():
                raise ValueError(f"--compare expects LABEL=existing summary.json, got {spec!r}")
            models[label] = json.loads(Path(path).read_text())["top1"]
        save_config(args.out, rcfg, run=args.run, p_root=args.p_root, data_root=args.data_root, names=names,
                    compare=args.compare, profile=args.profile)
        if not args.chart_only:
            summary, record = _evaluate(args, rcfg, names)
            models = {args.label: summary["top1"], **models}
        if not models:
            raise ValueError("nothing to chart: --chart-only needs --compare")
    except (ValueError, FileNotFoundError, VideoReadError) as e:
        raise SystemExit(f"error: {e}") from e
    labels = list(models)
    counts = {f"{labels[0]} > {b}": wins(models[labels[0]], models[b]) for b in labels[1:]}
    for pair, n in counts.items():
        print(f"{pair} on {n['all']} of {n['all_of']} corruptions, {n['benchmark']} of {n['benchmark_of']} "
              "UCF101-P sets")
    atomic_write_json(Path(args.out) / "wins.json", counts)
    bar_chart(models, Path(args.out) / "figure3.png", title=f"UCF101-P top-1 (%), severity {rcfg.headline}")
    mark_done(args.out, {"wins": counts, **record})  # DONE last
    return {"models": models, "wins": counts}


if __name__ == "__main__":
    main(get_args_parser().parse_args())
