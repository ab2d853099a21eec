"""The registry is a leaf, synvid has no import cycle, and synvid modules import each other at
module level only (a function-level import hides a cycle or an upward reach)."""
import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from synvid import progression as P
from synvid.config import PretrainConfig, RenderConfig, resolve
from synvid.data.batched import ClipPlans
from synvid.data.pretrain_data import PretrainDataset
from synvid.data.sampling import pretrain_clip_indices, sample_generator
from synvid.models import build
from synvid.render import batch, dynamics, raster_cpu
from synvid.render.stream import clip_plan

ROOT = Path(__file__).resolve().parent.parent / "synvid"
def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported synvid module, at module level?) of every import in `path`."""
    tree, pkg = ast.parse(path.read_text()), _module(path).rsplit(".", path.name != "__init__.py")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[:len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{a.name}" for a in node.names]      # a submodule, else a name of module `base`
        else:
            continue
        for name in names:
            if name.startswith("synvid"):
                yield name, node in tree.body


def _graph():
    mods = {_module(p): p for p in ROOT.rglob("*.py")}
    edges, inner = {}, []
    for m, p in mods.items():
        for name, top in _imports(p):
            target = name if name in mods else name.rsplit(".", 1)[0]
            if target in mods and target != m:
                edges.setdefault(m, set()).add(target)
                if not top:
                    inner.append((m, target))
    return mods, edges, inner


def test_no_cycles_and_no_function_level_synvid_imports():
    mods, edges, inner = _graph()
    assert inner == []
    state = {}

    def visit(m, path):                              # depth-first search; a grey node reached again is a cycle
        state[m] = "grey"
        for n in sorted(edges.get(m, ())):
            assert state.get(n) != "grey", f"import cycle: {' -> '.join(path + [n])}"
            if n not in state:
                visit(n, path + [n])
        state[m] = "black"
    for m in sorted(mods):
        if m not in state:
            visit(m, [m])


def test_registry_is_a_leaf():
    assert {t for t in _graph()[1].get("synvid.progression", ())} <= {"synvid", "synvid.config", "synvid.errors"}


@pytest.mark.slow
def test_registry_loads_only_leaf_modules():
    code = "import sys, synvid.progression; print(sorted(m for m in sys.modules if m.startswith('synvid')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # profiles: a table with no imports of its own; config.json is written by synvid.runs, never by the registry
    assert eval(loaded) == ["synvid", "synvid.config", "synvid.errors", "synvid.profiles", "synvid.progression"]


def test_state_at_numpy_and_torch_are_one_definition():
    sh = dynamics.video_shapes("accelerating_transforming_shapes", 2, 0, RenderConfig(num_shapes=50))
    frames = torch.tensor([[0, 7, 150]])
    st = batch.states({k: torch.as_tensor(v[None]) for k, v in sh.items()}, frames)
    for j, t in enumerate(frames[0].tolist()):       # torch and numpy cos/matmul may differ in the last bit
        ref = dynamics.state_at(sh, t)
        for k in ("centre", "A"):
            assert np.allclose(st[k][0, j].numpy(), ref[k], rtol=0, atol=1e-9)
        assert np.array_equal(st["alive"][0, j].numpy(), ref["alive"])
        lo, hi, vis = dynamics.boxes(sh, ref)
        tlo, thi, tvis = dynamics.boxes({k: torch.as_tensor(v) for k, v in sh.items()},
                                        {k: torch.as_tensor(v) for k, v in ref.items()})
        assert np.allclose(lo, tlo.numpy(), rtol=0, atol=1e-9) and np.allclose(hi, thi.numpy(), rtol=0, atol=1e-9)
        assert np.array_equal(vis, tvis.numpy())


def test_numba_box_rule_is_the_twin_of_dynamics_boxes():
    """raster_cpu keeps a numba copy of the box/visibility rule for speed: it marks exactly the shapes that
    dynamics.boxes marks drawn, frame after frame (many shapes leave the canvas by t = 199)."""
    sh = dynamics.video_shapes("accelerating_transforming_shapes", 3, 0, RenderConfig(num_shapes=200))
    for t in (0, 50, 120, 199):
        st = dynamics.state_at(sh, t)
        numba = raster_cpu.visible(sh["kind"], sh["radius"], sh["corners"], sh["pivot"], st["centre"], st["A"],
                                   st["alive"])
        assert np.array_equal(numba, np.nonzero(dynamics.boxes(sh, st)[2])[0])


def test_one_pretraining_clip_rule():
    """Synthetic sets (numpy stream 3) and list files (torch generator) draw start ~ U{0..N - 64} by one rule."""
    cfg = RenderConfig()
    index, frames = clip_plan("moving_shapes", 5, num_frames=16, sampling_rate=4, seed=1, cfg=cfg)
    n = P.num_frames("moving_shapes", index, 1, cfg)
    start = int(P.rng_for(1, "moving_shapes", 5, 3).integers(0, n - 64 + 1))          # PROTOCOLS §2.2
    assert frames == [start + 4 * k for k in range(16)]
    g = sample_generator(0, 0, 3, 1)
    start = int(torch.randint(100 - 64 + 1, (1,), generator=sample_generator(0, 0, 3, 1)))
    assert pretrain_clip_indices(100, 16, 4, g) == [start + 4 * k for k in range(16)]
    assert pretrain_clip_indices(10, 4, 4, np.random.default_rng(0)) == [0, 4, 8, 9]   # short: last frame repeats


def test_mask_window_is_the_models():
    """The tube mask covers the model's token grid: both data paths take it from synvid.models.videomae."""
    cfg = resolve(PretrainConfig, "smoke")
    model = build(cfg.model, num_frames=cfg.num_frames, img_size=cfg.input_size)
    data = PretrainDataset([], input_size=cfg.input_size, mask_ratio=cfg.mask_ratio, num_frames=cfg.num_frames)
    assert data.window == ClipPlans("moving_shapes", pretrain_cfg=cfg, size=32).window == model.window == (2, 2, 2)
