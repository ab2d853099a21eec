"""Write a texture bank (sharded, resumable, manifest with SHA-256 checksums); TEXTURES.md, paper Table 2.

    python data_gen/3_1_texture_banks.py --profile smoke --source statistical --num 16 --out runs/banks/stat
    python data_gen/3_1_texture_banks.py --profile paper --source stylegan --num 300000 --out data/banks/stylegan
Re-running the same command resumes an interrupted bank (verified shards are kept).
"""
import argparse

from synvid.cli import command
from synvid.config import TextureConfig, add_profile_argument, settings
from synvid.textures.banks import build_bank


def get_args_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_profile_argument(parser)
    parser.add_argument("--source", required=True, choices=["statistical", "stylegan", "stylegan_highfreq"])
    parser.add_argument("--num", type=int, default=None, help="number of textures (default: profile pool_size)")
    parser.add_argument("--out", required=True, help="bank directory")
    parser.add_argument("--size", type=int, default=None, help=f"side (paper: {TextureConfig.size})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard", type=int, default=1000, help="textures per shard file")
    parser.add_argument("--device", default="cpu")
    return parser


@command
def main(args: argparse.Namespace) -> None:
    cfg, _ = settings(TextureConfig, args.profile, flags=args)     # --size
    build_bank(cfg, args.out, args.source, args.num, seed=args.seed,
               shard=args.shard, device=args.device, profile=args.profile)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
