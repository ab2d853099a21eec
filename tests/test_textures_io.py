"""Image-crop pools, mixes, saturated variant, and texture banks (resume == one go)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from synvid import textures
from synvid.textures import generated, image_crops
from synvid.textures.banks import Bank, write_bank


@pytest.fixture
def folder(tmp_path):
    from skimage import data
    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    root = tmp_path / "train"
    for c in range(2):
        (root / f"n0{c}").mkdir(parents=True)
        for i, img in enumerate(photos):
            Image.fromarray(np.roll(img, 37 * c, axis=1)).save(root / f"n0{c}" / f"im{i}.JPEG")
    return root


def test_pool_membership_and_determinism(folder):
    a = image_crops.ImageCrops(folder, seed=1, size=32, pool_size=5)
    b = image_crops.ImageCrops(folder, seed=1, size=32, pool_size=5)
    c = image_crops.ImageCrops(folder, seed=2, size=32, pool_size=5)
    everything = set(image_crops.list_images(folder))
    assert a.pool_size == 5 and set(a.files) <= everything and a.files == b.files and a.files != c.files
    out = a.get(torch.tensor([0, 4]), "cpu")
    assert out.shape == (2, 32, 32, 3) and torch.equal(out[1], image_crops.load(a.files[4], 32))


def _twice(x):
    """Nearest 2x enlargement: what the renderer's texel floor(q S / 512) reads from an S^2 texture anyway."""
    return x.repeat_interleave(2, -3).repeat_interleave(2, -2)


def test_images_go_straight_to_512_nearest(folder):
    """gen_syn_video.py:156: cv2_resize(cv2_imread(file), (512, 512)), cv2.INTER_NEAREST: output pixel i takes input
    floor(i * H / 512); at S = 256 an image source holds 512^2 textures, not S^2."""
    src = textures.source("imagenet", seed=0, size=256, imagenet=folder, pool_size=8)
    assert src.size == 512
    k = 2
    with Image.open(src.files[k]) as im:
        full = np.asarray(im.convert("RGB"))
    h, w = full.shape[:2]
    assert (h, w) != (512, 512)
    rows, cols = np.floor(np.arange(512) * (h / 512)).astype(int), np.floor(np.arange(512) * (w / 512)).astype(int)
    assert np.array_equal(src.get(torch.tensor([k]), "cpu")[0].numpy(), full[rows][:, cols])


def test_mix_and_saturated(folder):
    mix = textures.source("mix", seed=0, size=32, imagenet=folder, pool_size=4)
    assert mix.pool_size == 4 and mix.size == 64
    out = mix.get(torch.tensor([0, 3]), "cpu")
    assert torch.equal(out[1], _twice(generated.generate("statistical", [1], seed=0, size=32)[0]))
    sat = textures.source("imagenet", seed=0, size=32, imagenet=folder, pool_size=3, saturated=True)
    plain = textures.source("imagenet", seed=0, size=32, imagenet=folder, pool_size=3)
    s, p = sat.get(torch.tensor([1]), "cpu"), plain.get(torch.tensor([1]), "cpu")
    assert (s >= p).all() and not torch.equal(s, p)


@pytest.mark.parametrize("mix_with", ["statistical", "stylegan"])
def test_mix_halves(folder, mix_with):
    # Tables 2 / 10: ids below pool_size // 2 are pool images, the rest the chosen generator's textures.
    mix = textures.source("mix", seed=3, size=32, imagenet=folder, pool_size=6, mix_with=mix_with)
    images = textures.source("imagenet", seed=3, size=32, imagenet=folder, pool_size=3)
    out = mix.get(torch.arange(6), "cpu")
    assert torch.equal(out[:3], images.get(torch.arange(3), "cpu"))
    assert torch.equal(out[3:], _twice(generated.generate(mix_with, 3, seed=3, size=32)))
    with pytest.raises(ValueError, match="mix_with"):
        textures.source("mix", imagenet=folder, mix_with="noise")


def test_mix_reads_its_generated_half_from_a_bank(tmp_path, folder):
    write_bank(tmp_path / "stat", "statistical", 4, seed=3, size=32, shard=2)
    kw = dict(seed=3, size=32, imagenet=folder, pool_size=6)
    banked = textures.source("mix", bank=tmp_path / "stat", **kw)
    assert banked.pool_size == 6
    assert torch.equal(banked.get(torch.arange(6)), textures.source("mix", **kw).get(torch.arange(6)))
    with pytest.raises(ValueError, match="holds statistical"):
        textures.source("mix", bank=tmp_path / "stat", mix_with="stylegan", **kw)
    with pytest.raises(ValueError, match="the mix needs 5"):
        textures.source("mix", bank=tmp_path / "stat", **{**kw, "pool_size": 10})
    with pytest.raises(ValueError, match="a bank is for generated kinds"):
        textures.source("imagenet", bank=tmp_path / "stat", **kw)


def test_bad_folders(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        textures.source("imagenet", size=32, imagenet=tmp_path / "missing_dir")
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (8, 8)).save(flat / "a.png")
    with pytest.raises(ValueError, match="not ImageFolder-shaped"):
        image_crops.ImageCrops(flat, size=32)
    (folder / "n00" / "broken.JPEG").write_bytes(b"not an image")
    src = image_crops.ImageCrops(folder, size=32, pool_size=100)
    k = [str(f) for f in src.files].index(str(folder / "n00" / "broken.JPEG"))
    with pytest.raises(ValueError, match="broken.JPEG"):
        src.get(torch.tensor([k]), "cpu")


def test_bank_resume_matches_one_go(tmp_path):
    one = write_bank(tmp_path / "one", "stylegan", 5, seed=2, size=16, shard=2)
    assert write_bank(tmp_path / "two", "stylegan", 5, seed=2, size=16, shard=2, max_shards=1) is None
    assert not (tmp_path / "two" / "manifest.json").exists()
    two = write_bank(tmp_path / "two", "stylegan", 5, seed=2, size=16, shard=2)
    assert [s["sha256"] for s in one["shards"]] == [s["sha256"] for s in two["shards"]]
    bank = Bank(tmp_path / "two", verify=True)
    ids = torch.tensor([4, 0, 3])
    assert torch.equal(bank.get(ids, "cpu"), generated.generate("stylegan", ids, seed=2, size=16))
    src = textures.source("stylegan", seed=2, size=16, pool_size=5, bank=tmp_path / "two")
    assert src.pool_size == 5 and json.loads((tmp_path / "two" / "manifest.json").read_text())["num"] == 5
    # a bank is never read as another pool or texture size (e.g. mini's 20k pool on a 300k bank)
    with pytest.raises(ValueError, match=r"pool size 5 \(configured 20000\)"):
        textures.source("stylegan", seed=2, size=16, pool_size=20000, bank=tmp_path / "two")
    with pytest.raises(ValueError, match=r"texture size 16 \(configured 32\)"):
        textures.source("stylegan", seed=2, size=32, pool_size=5, bank=tmp_path / "two")


def test_bank_from_an_older_generator_is_refused(tmp_path):
    write_bank(tmp_path / "b", "stylegan", 2, seed=0, size=16, shard=1, max_shards=1)
    (tmp_path / "b" / "version.json").write_text(json.dumps({"source": "stylegan", "version": 1}))
    with pytest.raises(ValueError, match="version 1"):
        write_bank(tmp_path / "b", "stylegan", 2, seed=0, size=16, shard=1)       # no mixing on resume
    write_bank(tmp_path / "c", "stylegan", 1, seed=0, size=16)
    manifest = json.loads((tmp_path / "c" / "manifest.json").read_text())
    (tmp_path / "c" / "manifest.json").write_text(json.dumps({**manifest, "version": 1}))
    with pytest.raises(ValueError, match="delete the bank"):
        Bank(tmp_path / "c")


@pytest.mark.slow
def test_bank_cli(tmp_path):
    import subprocess
    import sys
    out = tmp_path / "bank"
    script = str(Path(__file__).parents[1] / "data_gen/3_1_texture_banks.py")
    cmd = [sys.executable, script, "--profile", "smoke", "--source", "statistical",
           "--num", "3", "--out", str(out), "--shard", "2"]
    subprocess.run(cmd, check=True, capture_output=True)
    assert (out / "DONE").exists() and (out / "config.json").exists() and Bank(out).size == 32
    bad = subprocess.run(cmd[:-2] + ["--shard", "0"], capture_output=True, text=True)
    assert bad.returncode != 0
