"""Section 3.2: export a synvid pre-training run (or one of its checkpoints) for the peers' own code.

    python pretrain/3_2_export.py --run runs/pretrain/m5 --format videomae --out m5/checkpoint.pth
    python pretrain/3_2_export.py --run runs/pretrain/m5 --format hf --out m5/hf
    python pretrain/3_2_export.py --run runs/vj/last.pth --format vjepa --out vj/jepa-latest.pth.tar

Formats: `videomae` = the official MCG-NJU VideoMAE checkpoint ({'model': state_dict}); `hf` = a HuggingFace
transformers VideoMAEForPreTraining folder (config.json, model.safetensors; from_pretrained reads it); `vjepa` = the
official facebookresearch/jepa checkpoint (encoder, target_encoder, predictor, epoch). VideoMAE runs export as
videomae or hf, V-JEPA runs as vjepa.
"""
import argparse

from synvid.cli import command
from synvid.export import FORMATS, export


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="pre-training run directory (its last.pth) or a checkpoint")
    parser.add_argument("--format", required=True, choices=sorted(FORMATS), help="layout to write (see above)")
    parser.add_argument("--out", required=True, help="file to write (a folder for --format hf)")
    parser.add_argument("--allow-unfinished", action="store_true",
                        help="export a run without DONE (its last checkpoint as it is)")
    return parser


@command
def main(args: argparse.Namespace):
    path = export(args.run, args.format, args.out, allow_unfinished=args.allow_unfinished)
    print(f"exported {args.run} as {args.format}: {path}")
    return path


if __name__ == "__main__":
    main(get_args_parser().parse_args())
