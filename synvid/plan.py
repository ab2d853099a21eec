"""The run plan of run_all.sh: every stage's commands and every run's dependencies, built from the registries
(synvid.progression's sets with their `fixed` and `texture` fields, the profiles' settings), the way DomainBed's
sweep builds its jobs from DATASETS x ALGORITHMS. synvid.run_all prints it for the shell loop of run_all.sh and
synvid.slurm submits it as jobs; neither restates a set, a mix or a bank.

A plan is a pure function of its Settings (run_all.sh's flags and a few environment variables). It reads the
registry with the standard library only: run_all.sh builds it with the system python3, before the environment is
bootstrapped.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Mapping, Optional, Union

from synvid import progression
from synvid.config import FinetuneConfig, LinprobeConfig, PretrainConfig, TextureConfig, resolve

STAGES = ("data", "pretrain", "finetune", "ucf101p", "analysis", "tables")
OBJECTIVES = ("videomae", "vjepa")        # synvid.engine.objectives.OBJECTIVES (a test keeps the two equal)
PAPER_OBJECTIVE = "videomae"              # its runs keep the paper's folders; another's go to <stage>_<objective>/
TOY_PROFILES = ("smoke", "cpu")           # toy data on CPU: no real data is read, no ablations run
SMOKE_SETS = ("moving_circles", "accelerating_transforming_shapes")   # M2 and M5: one on-the-fly set per renderer
# Table 11: a set whose epochs have this fraction replaced by real UCF101 training videos (--ablations)
MIXES = (("accelerating_transforming_shapes", 0.25), ("accelerating_transforming_shapes", 0.75),
         ("accelerating_transforming_image_crops", 0.5))
MIX_REAL = "ucf101"                       # the real set of the mixes (3_2_pretrain.py --mix-name)
BANK_KINDS = ("statistical", "stylegan", "stylegan_highfreq")   # data_gen/3_1_texture_banks.py --source
VIT_L = {"pretrain": "pretrain_videomae_large_patch16_224", "finetune": "vit_large_patch16_224"}   # Figure 2
SCRIPTS = {"finetune": "finetune/4_1_finetune.py", "linprobe": "linprobe/4_3_linprobe.py"}
IMAGENET = "$IMAGENET_ROOT"               # an input the commands name by variable (the shell expands it)


def mix_key(dataset: str, fraction: float, real: str = MIX_REAL) -> str:
    """The result key of a Table 11 mix, `<set>_<real set>_<percent>pct`: its run folder here and its table row
    in synvid.provenance."""
    return f"{dataset}_{real}_{round(100 * fraction)}pct"


def bank_kind(name: str) -> Optional[str]:
    """The texture bank a set reads: its texture kind (a mix: the kind of its generated half) when a bank holds it;
    None for untextured and image sets, and for latent walks (a bank holds static textures)."""
    spec = progression.spec(name)
    kind = spec.mix_with if spec.texture == "mix" else spec.texture
    return kind if kind in BANK_KINDS and not spec.dynamic else None


def reads_imagenet(name: str) -> bool:
    """The set crops ImageNet images: image textures (or half of a mix) or image backgrounds."""
    spec = progression.spec(name)
    return spec.texture in ("imagenet", "mix") or spec.background == "image"


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _seed_flag(seed: int) -> str:
    return f"--seed {seed}" if seed else ""


def _seed_suffix(seed: int) -> str:
    return f"_seed{seed}" if seed else ""      # seed 0 keeps the plain name (and resumes older runs)


@dataclass
class Settings:
    """What a plan depends on: run_all.sh's flags and the environment variables that add rows."""
    profile: str = "paper"
    ablations: bool = False
    vit_l: bool = False
    seeds: tuple = (0,)
    seed_list: bool = False                # the seeds were named (--seed-list), not counted (--seeds K)
    seed_pretraining: bool = False
    objectives: tuple = (PAPER_OBJECTIVE,)
    env: Mapping[str, str] = field(default_factory=dict)   # *_ROOT, VIDEOMAE_*_CKPT, NPROC

    def done_tag(self) -> str:
        """The suffix of the stage markers: a stage done without the ablations (ViT-L, these seeds, these
        objectives) is not done with them."""
        tag = ".ablations" * self.ablations + ".vitl" * self.vit_l
        if self.seed_list:
            tag += ".seeds" + "-".join(map(str, self.seeds))
        elif len(self.seeds) > 1:
            tag += f".seeds{len(self.seeds)}"
        if len(self.seeds) > 1 and self.seed_pretraining:
            tag += "p"
        if self.objectives != (PAPER_OBJECTIVE,):
            tag += "." + "+".join(self.objectives)
        return tag


@dataclass(frozen=True)
class Downstream:
    """One fine-tuning or probing run of the finetune stage (one command per seed)."""
    task: str                              # finetune | linprobe
    dataset: str
    root: str
    init: Union[str, tuple]                # 'scratch', an official checkpoint's $VARIABLE, or (folder, set) of ours
    key: str                               # the pre-training key: the run's folder name and its table row
    series: str = ""                       # "" the ViT-B tables; _vjepa another objective; _vitl Figure 2's ViT-L
    extra: tuple = ()

    @property
    def cell(self) -> str:
        """COLUMN:KEY of the table cell this run fills (reported.csv)."""
        return f"{self.dataset.removeprefix('toy_')}_{self.task}:{self.key}"


@dataclass(frozen=True)
class Run:
    """One command of the plan."""
    stage: str
    command: str

    @property
    def out(self) -> Optional[str]:
        return option(self.command, "--out")


class Plan:
    """The commands of every stage for one Settings (`commands(stage)`), in the order they run."""

    def __init__(self, settings: Settings):
        self.s = s = settings
        env, self.profile, self.runs = s.env, s.profile, f"runs/{s.profile}"
        self.p = f"--profile {s.profile}"
        toy = s.profile in TOY_PROFILES
        self.ablations = s.ablations and not toy
        self.launch = "python" if toy else f"torchrun --nproc_per_node {env.get('NPROC') or 'gpu'}"
        self.quiet = "--no-progress" if toy else ""
        # Unset roots print as the variable (a dry run); run_all refuses them before any real work.
        toy_data = f"{self.runs}/toy/toy_"
        # the pre-training sets, and (dataset, root) of the UCF101 and HMDB51 columns
        self.sets, self.ucf = progression.NAMES, ("ucf101", env.get("UCF101_ROOT") or "$UCF101_ROOT")
        self.hmdb = ("hmdb51", env.get("HMDB51_ROOT") or "$HMDB51_ROOT")
        if s.profile == "cpu":     # the miniature: the five shape sets, one toy action set, no HMDB51/UCF101-P/§5
            self.sets, self.ucf, self.hmdb = progression.NAMES[:5], ("toy_actions", toy_data + "actions"), None
        elif s.profile == "smoke":
            self.sets, self.ucf = SMOKE_SETS, ("toy_ucf101", toy_data + "ucf101")
            self.hmdb = ("toy_hmdb51", toy_data + "hmdb51")
        # the optional real inputs that add rows (K400_ROOT, VIDEOMAE_*_CKPT); the toy profiles read no real data
        self.optional = {} if toy else env
        # the ablations of Tables 2, 3, 9, 10 and 12: the sets rendered on the fly first, then the fixed ones
        ablations = progression.ABLATIONS if self.ablations else ()
        self.ablation_sets = tuple(sorted(ablations, key=lambda name: progression.spec(name).fixed))
        self.mixes = MIXES if self.ablations else ()

    def commands(self, stage: str) -> list[str]:
        return getattr(self, f"_{stage}")()

    def stage_runs(self, stages) -> list[Run]:
        return [Run(stage, command) for stage in stages for command in self.commands(stage)]

    def marker(self, stage: str) -> str:
        return f"{self.runs}/stages/{stage}{self.s.done_tag()}.DONE"

    def log(self, stage: str) -> str:
        return f"{self.runs}/logs/{stage}.log"

    def _objectives(self) -> list[str]:
        """The other objectives than the paper's, in the order given."""
        return [o for o in self.s.objectives if o != PAPER_OBJECTIVE]

    # --- data ---------------------------------------------------------------------------------------------------

    def _generate(self, name: str, before: tuple = (), after: tuple = ()) -> str:
        bank = f"--bank {self.runs}/textures/{bank_kind(name)}" if bank_kind(name) else ""
        return _join("python data_gen/3_1_generate.py", self.p, f"--dataset {name}", *before, bank,
                     f"--imagenet {IMAGENET}" if reads_imagenet(name) else "", f"--out {self.runs}/data/{name}",
                     *after)

    def _banks(self, names) -> list[str]:
        pool = resolve(TextureConfig, self.profile).pool_size
        kinds = dict.fromkeys(bank_kind(n) for n in names if bank_kind(n))
        return [f"python data_gen/3_1_texture_banks.py {self.p} --source {kind} --num {pool} "
                f"--out {self.runs}/textures/{kind}" for kind in kinds]

    def _toy(self, dataset: str, root: str) -> str:
        return f"python data_gen/4_0_make_toy.py {self.p} --dataset {dataset} --out {root}"

    def _data(self) -> list[str]:
        if self.profile == "cpu":            # the shape sets render on the fly: only the action set is written
            return [self._toy(*self.ucf)]
        grid = f"python data_gen/3_1_sample_grid.py {self.p}"
        if self.profile == "smoke":          # a few videos of each renderer path (the analysis stage reads them)
            written = (*SMOKE_SETS, "accelerating_transforming_textures")
            return [*self._banks(written), *(self._generate(n, before=("--num-videos 2",)) for n in written),
                    f"{grid} --out {self.runs}/figures/fig1_samples", self._toy(*self.ucf), self._toy(*self.hmdb)]
        planned = {*self.sets, *self.ablation_sets}
        fixed = [n for n, spec in progression.DATASETS.items() if spec.fixed and n in planned]
        lines = [*self._banks(fixed), *(self._generate(n, after=("--workers 16",)) for n in fixed),
                 f"{grid} --imagenet {IMAGENET} --out {self.runs}/figures/fig1_samples"]
        if self.mixes:                       # the real half of Table 11's mixes
            lines.append(f"python data_gen/4_0_write_list.py {self.p} --dataset ucf101 --data-root {self.ucf[1]} "
                         f"--subset train --out {self.runs}/data/ucf101_train.csv")
        return lines

    # --- pretrain -----------------------------------------------------------------------------------------------

    def _pretrain_run(self, name: str, out: str = "", folder: str = "pretrain", extra: tuple = ()) -> list[str]:
        """A fixed set trains on its materialised list (as the authors), the others render on the fly."""
        if progression.spec(name).fixed:
            data = f"--list {self.runs}/data/{name}/train.csv"
        else:
            data = _join(f"--dataset {name}", f"--imagenet {IMAGENET}" if reads_imagenet(name) else "")
        seeds = self.s.seeds if self.s.seed_pretraining else (0,)
        return [_join(self.launch, "pretrain/3_2_pretrain.py", self.p, data, *extra, _seed_flag(seed),
                      f"--out {self.runs}/{folder}/{out or name}{_seed_suffix(seed)}", self.quiet)
                for seed in seeds]

    def _pretrain(self) -> list[str]:
        lines = []
        for objective in self._objectives():           # another objective: the progression only
            for name in self.sets:
                lines += self._pretrain_run(name, folder=f"pretrain_{objective}",
                                            extra=(f"--objective {objective}",))
        if PAPER_OBJECTIVE not in self.s.objectives:
            return lines
        for name in (*self.sets, *self.ablation_sets):
            lines += self._pretrain_run(name)
        if self.s.vit_l:                               # Figure 2's ViT-L series (§9.3: batch halved)
            half = resolve(PretrainConfig, self.profile).batch_size // 2
            for name in self.sets:
                lines += self._pretrain_run(name, folder="pretrain_vitl",
                                            extra=(f"--model {VIT_L['pretrain']}", f"--batch-size {half}"))
        for name, fraction in self.mixes:
            lines += self._pretrain_run(name, mix_key(name, fraction), extra=(
                f"--mix-fraction {fraction}", f"--mix-list {self.runs}/data/ucf101_train.csv"))
        return lines

    # --- finetune (fine-tuning and linear probing) --------------------------------------------------------------

    def downstream(self) -> list[Downstream]:
        """Every fine-tuning and probing run, in the order they run."""
        (ucf, ucf_root), optional = self.ucf, self.optional

        def three(init, key, series=""):               # Table 1's three columns
            return [Downstream("finetune", ucf, ucf_root, init, key, series),
                    *([Downstream("finetune", *self.hmdb, init, key, series)] if self.hmdb else []),
                    Downstream("linprobe", ucf, ucf_root, init, key, series)]

        runs = three("scratch", "scratch")             # Table 1 "Random initialization"
        for objective in self.s.objectives:
            series = "" if objective == PAPER_OBJECTIVE else f"_{objective}"
            for name in self.sets:
                runs += three((f"pretrain{series}", name), name, series)
        if PAPER_OBJECTIVE not in self.s.objectives:
            return runs
        if optional.get("VIDEOMAE_UCF101_CKPT"):       # Table 1 "UCF101": the official VideoMAE checkpoint (Q16)
            official = ("$VIDEOMAE_UCF101_CKPT", "ucf101", "", ("--pretrain-name ucf101",))
            runs += [Downstream("finetune", "ucf101", ucf_root, *official),
                     Downstream("finetune", "hmdb51", self.hmdb[1], *official),
                     Downstream("linprobe", "ucf101", ucf_root, *official)]
        if optional.get("K400_ROOT"):                  # Table 4 (the official K400 recipe, Q15)
            k400 = ("finetune", "k400", "$K400_ROOT")
            crops = "accelerating_transforming_image_crops"
            runs += [Downstream(*k400, "scratch", "scratch"), Downstream(*k400, ("pretrain", crops), crops)]
            if optional.get("VIDEOMAE_K400_CKPT"):
                runs.append(Downstream(*k400, "$VIDEOMAE_K400_CKPT", "k400", "", ("--pretrain-name k400",)))
        extra = (*self.ablation_sets, *(mix_key(name, fraction) for name, fraction in self.mixes))
        runs += [Downstream("finetune", ucf, ucf_root, ("pretrain", name), name) for name in extra]   # UCF101 only
        if self.s.vit_l:                               # Figure 2's ViT-L series: UCF101 fine-tuning, batch halved
            large = (f"--model {VIT_L['finetune']}",
                     f"--batch-size {resolve(FinetuneConfig, self.profile).batch_size // 2}")
            runs += [Downstream("finetune", ucf, ucf_root, init, key, "_vitl", large) for init, key in
                     [("scratch", "scratch"), *((("pretrain_vitl", n), n) for n in self.sets)]]
        return runs

    def _downstream_commands(self, run: Downstream) -> list[str]:
        lines = []
        for seed in self.s.seeds:
            init = run.init
            if isinstance(init, tuple):                # its own seed's pre-training with --seed-pretraining
                folder, name = init
                init = f"{self.runs}/{folder}/{name}{_seed_suffix(seed) * self.s.seed_pretraining}/last.pth"
            task_dir = f"{self.runs}/{run.task}{run.series}/{run.dataset}"
            lines.append(_join(self.launch, SCRIPTS[run.task], self.p, f"--dataset {run.dataset}",
                               f"--data-root {run.root}", f"--init {init}", *run.extra, _seed_flag(seed),
                               f"--out {task_dir}/{run.key}{_seed_suffix(seed)}", self.quiet,
                               *self._feature_cache(run, task_dir)))
        return lines

    def _feature_cache(self, run: Downstream, task_dir: str) -> list[str]:
        """A cached-mode probe reads its training features from one folder per dataset, so the seeds of an
        encoder extract them once (their features are the same: the probe's seed only draws the head's batches)."""
        if run.task == "linprobe" and resolve(LinprobeConfig, self.profile).cache_features:
            return [f"--feature-cache {task_dir}/features"]
        return []

    def _finetune(self) -> list[str]:
        return [line for run in self.downstream() for line in self._downstream_commands(run)]

    def planned_cells(self) -> list[str]:
        """COLUMN:KEY of every ViT-B fine-tune / probe this plan launches (the tables say why the others are empty)."""
        return sorted({run.cell for run in self.downstream() if not run.series})

    # --- ucf101p, analysis, tables ------------------------------------------------------------------------------

    def _ucf101p(self) -> list[str]:
        if self.profile == "cpu":            # the miniature stops at fine-tuning and probing (docs/miniature.md)
            return []
        data = f"{self.runs}/ucf101p/data"
        evaluated = [("", "scratch"), *(("", n) for n in self.sets if PAPER_OBJECTIVE in self.s.objectives),
                     *([("", "ucf101")] if self.optional.get("VIDEOMAE_UCF101_CKPT") else []),
                     *((f"_{o}", n) for o in self._objectives() for n in self.sets)]
        return [_join(f"python data_gen/4_2_make_ucf101p.py {self.p} --data-root {self.ucf[1]} --out {data}",
                      self.quiet)] + [
            f"python finetune/4_2_eval_ucf101p.py {self.p} --run {self.runs}/finetune{series}/{self.ucf[0]}/{name} "
            f"--p-root {data} --label {name} --out {self.runs}/ucf101p/eval{series}/{name}"
            for series, name in evaluated]

    def _analysis(self) -> list[str]:
        if self.profile == "cpu":
            return []
        stats, root = f"{self.runs}/analysis/stats", self.ucf[1]   # 5_3 and 5_4 share it: results/<set>.json
        sets = ",".join(self.sets)           # Fig. 5 over the progression, Fig. 4 statistics over every set
        every = ",".join((*self.sets, *self.ablation_sets))
        ckpts = ",".join(f"{self.runs}/pretrain/{name}/last.pth" for name in self.sets)
        reference = f"--reference {root}/ucfTrainTestlist/trainlist01.txt --video-root {root}/UCF-101"
        pca = (f"python analysis/5_5_visualize_features.py {self.p} --checkpoints {ckpts} --labels {sets} "
               f"--data-root {root}/UCF-101 --class-name")
        fig5 = f"--out {self.runs}/analysis/fig5_pca"
        if self.profile == "smoke":
            lines = [f"python analysis/5_4_frame_properties.py {self.p} --datasets {every} --stats spectrum,color "
                     f"{reference} --out {stats}", f"{pca} Orbit {fig5}"]
        else:
            weights = "--inception-weights $INCEPTION_WEIGHTS"
            lines = [f"python analysis/5_3_similarity.py {self.p} --datasets {every} {reference} --imagenet "
                     f"{IMAGENET} {weights} --i3d-weights $I3D_WEIGHTS --out {stats}",
                     f"python analysis/5_4_frame_properties.py {self.p} --datasets {every} --stats "
                     f"diversity,spectrum,color {reference} --imagenet {IMAGENET} {weights} --out {stats}",
                     f"{pca} PlayingGuitar {fig5}"]
        return lines + [f"python analysis/5_4_correlations.py {self.p} --stats-dir {stats}/results --runs "
                        f"{self.runs} --only-profile {self.profile} --out {self.runs}/analysis/fig4"]

    def _tables(self) -> list[str]:
        return [f"python paper_tables/make_tables.py {self.p} --runs {self.runs} --out results/{self.profile} "
                f"--planned {','.join(self.planned_cells())}"]


# --- Dependencies: a run waits for every earlier run that writes a path it names ---------------------------------

def option(command: str, flag: str) -> Optional[str]:
    """The value of `flag` in a command; None when it has none."""
    tokens = shlex.split(command)
    return tokens[tokens.index(flag) + 1] if flag in tokens[:-1] else None


def named_paths(command: str) -> list[PurePosixPath]:
    """Every path-like argument of a command (comma-separated lists split); shell variables are left out."""
    return [PurePosixPath(part) for token in shlex.split(command) for part in token.split(",")
            if "/" in part and not part.startswith("$") and not part.endswith(".py")]


def _needs(path: PurePosixPath, out: PurePosixPath) -> bool:
    """A command naming `path` reads (or writes) what the run writing `out` makes."""
    return path == out or out in path.parents or path in out.parents


def dependencies(runs: list[Run]) -> list[list[int]]:
    """For each run, the indices of the earlier runs it waits for: those whose --out is a path it names
    (`--init RUNS/pretrain/X/last.pth`, `--list RUNS/data/X/train.csv`, `--run`, `--data-root`, ...) or that lies
    inside a folder it names (`--runs RUNS`); two runs with the same --out run one after the other; the tables
    wait for every run."""
    deps = []
    for i, run in enumerate(runs):
        paths = named_paths(run.command)
        deps.append([j for j, earlier in enumerate(runs[:i]) if run.stage == "tables" or earlier.out and any(
            _needs(path, PurePosixPath(earlier.out)) for path in paths)])
    return deps
