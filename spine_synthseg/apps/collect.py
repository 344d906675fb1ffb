"""The collector's command line, `python scripts/collect.py ...` (spine_synthseg/evaluation/collect.py and the
screens' modules do the statistics): run folders -> tables.

  python scripts/collect.py experiment RUNS RESULTS   # an experiment: RUNS/eval_seed<k>/ or eval_<mode>_seed<k>/ of the
                                                      # configured mode (+ eval_home_seed<k>/,
                                                      # model_*_seed<k>/) -> RESULTS/headline.csv, paired_differences.csv,
                                                      # default/{per_patient,all_tests}.csv, figures, runs, timing
  python scripts/collect.py headline RESULTS          # re-collect headline, paired differences and all_tests from
                                                      # RESULTS/default/per_patient.csv (no run folders needed)
  python scripts/collect.py runs OUT NAME=EVAL_DIR|RUN_DIR ... [--baseline NAME]
                                                      # evaluation runs (validation families, screening, a one-seed
                                                      # table): OUT.csv (summaries), OUT_paired.csv (each vs baseline,
                                                      # or every pair), OUT_per_patient.csv; NAME=DIR:SEED gives a seed
                                                      # to rows without one; runs named <config>_seed<k> pool their seeds
  python scripts/collect.py evaluation OUT LABEL=EVAL_DIR[,EVAL_DIR...] ... [--seed K]
                                                      # evaluation runs of the same checkpoints (e.g. one per inference
                                                      # mode; several folders of one label pool their seeds):
                                                      # OUT.csv (summaries, column `run` = LABEL), OUT_paired.csv
                                                      # (every pair of models), OUT_per_patient.csv
  python scripts/collect.py qc OUT --validation EVAL_DIR [--test EVAL_DIR]
                                                      # quality scores (evaluation.quality_scores): the score and its
                                                      # threshold chosen on the validation run (OUT_threshold.json;
                                                      # with shift-validation volumes in it, one threshold for failed
                                                      # slices and false-spine slices, and per model the flag on the
                                                      # volumes' slices: OUT_volumes.csv), Spearman rho with Dice per
                                                      # model and family (OUT.csv)
  python scripts/collect.py volumes RESULTS OUTPUTS  # whole volumes (protocol.md entry 4): the quality flag against
                                                      # false-spine slices, per-slice CSVs, profile and slice figures
  python scripts/collect.py compare OLD NEW OUT.csv   # two collected experiments: NEW - OLD per model on the headline
  python scripts/collect.py freeze RESULTS RUNS       # freeze candidates (protocol.md entry 3): each model x inference
                                                      # mode (+ column band) on both validation axes, paired
  python scripts/collect.py curves OUT_PREFIX RUN ... # training curves (TensorBoard scalars) as CSV and plot
  python scripts/collect.py absence RESULTS RUN ...   # the absence screen (evaluation/absence_screen.py): three
                                                      # validation axes per run, paired against its baseline, front
  python scripts/collect.py volume_freeze RESULTS RUNS  # the volume freeze on the validation axes (evaluation/
                                                      # volume_freeze.py) -> RESULTS/volume_freeze/: decisions

Bootstrap settings come from the config (evaluation.bootstrap_samples, confidence, seed); add Hydra overrides after
`--`, e.g. `-- evaluation.bootstrap_samples=5000`.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np

from spine_synthseg.config import compose_config
from spine_synthseg.data import families
from spine_synthseg.errors import DataError
from spine_synthseg.evaluation import collect as c
from spine_synthseg.evaluation.figures import headline_plot
from spine_synthseg.evaluation.training_curves import export

COPY = ("summary.md", "summary.json", "dice_vs_resolution.png", "dice_per_test.png")


CATALOG: dict = {}  # the catalogue (conf/catalog/default.yaml), read in main(): families and models
HEADLINE: dict[str, tuple] = {}  # its test families: name -> (test, variant, structure, metric)
MODELS: tuple[str, ...] = ()
MODE = ""  # the configured inference mode (conf/config.yaml): the reference of the freeze's mode comparisons


def bootstrap(overrides: list[str], cfg=None) -> tuple[int, float, int]:
    """(bootstrap samples, confidence, seed) of `cfg` (default: the config composed with `overrides`); sets the
    catalogue, headline families, models and configured mode the subcommands read."""
    global CATALOG, HEADLINE, MODELS, MODE
    if cfg is None:
        cfg = compose_config(overrides)
    elif overrides:
        raise DataError(f"overrides {overrides} after '--' with a composed config (run.py mode=collect): give them "
                        f"on run.py's command line instead.")
    MODE = str(cfg.inference_mode)
    CATALOG = families.catalog_of(cfg)
    HEADLINE, MODELS = families.headline_keys(CATALOG), tuple(families.models(CATALOG))
    ev = cfg.evaluation
    return int(ev.bootstrap_samples), float(ev.confidence), int(ev.seed)


def write_tables(results: Path, long: list[dict], boot, configs: dict | None = None) -> None:
    tables = c.experiment_tables(long, *boot, headline=HEADLINE, models=MODELS, configs=configs)
    c.write_csv(results / "default" / "all_tests.csv", tables["all_tests"])
    c.write_csv(results / "headline.csv", tables["headline"])
    c.write_csv(results / "paired_differences.csv", tables["paired_differences"])
    seeds = sorted({r["seed"] for r in long})
    headline_plot(tables["headline"], CATALOG, results / "headline.png",
                  f"Real tests, whole slices: mean over patients and {len(seeds)} seed{'s' * (len(seeds) > 1)}")


def experiment(runs: Path, results: Path, boot) -> None:
    evals = sorted(runs.glob("eval_seed*/metrics.csv")) or sorted(runs.glob(f"eval_{MODE}_seed*/metrics.csv"))
    evals += sorted(runs.glob("eval_home_seed*/metrics.csv"))
    if not evals:
        raise DataError(f"No eval_seed*/metrics.csv (or eval_{MODE}_seed*/) under {runs}; run the experiment's "
                        "test evaluations first.")
    default = results / "default"
    long = []
    for path in evals:
        seed = re.sub(rf"^eval_(home_|{MODE}_)?seed", "", path.parent.name)
        long += c.evaluation_long(path.parent, seed)
        out = default / f"seed{seed}"
        out.mkdir(parents=True, exist_ok=True)
        prefix = "home_field_" if path.parent.name.startswith("eval_home") else ""
        for name in COPY:
            if (path.parent / name).is_file():
                shutil.copy(path.parent / name, out / f"{prefix}{name}")
        if seed == "0":
            for png in path.parent.glob("overlays_*.png"):
                shutil.copy(png, out / png.name)
    c.write_csv(default / "per_patient.csv", long)
    trained = sorted(p for p in runs.glob("model_*_seed*") if (p / "metrics.json").is_file())
    configs = {m: c.run_config(runs / f"{m}_seed0") for m in MODELS if (runs / f"{m}_seed0" / ".hydra").is_dir()}
    write_tables(results, long, boot, configs)
    if trained:
        train = {p.name: {k: v for k, v in json.loads((p / "metrics.json").read_text()).items() if k != "splits"}
                 for p in trained}
        (default / "training_runs.json").write_text(json.dumps(train, indent=2))
        export(default / "training_curves", [p for p in trained if p.name.endswith("seed0")])
        shutil.copy(trained[0] / "splits.json", default / "splits.json")
    durations = {p.parent.name: c.run_seconds(p) for p in sorted(runs.glob("*/run.log"))}
    (default / "timing.json").write_text(json.dumps({"total_seconds": sum(durations.values()), "runs": durations}, indent=2))
    print(f"collected {len(evals)} evaluations into {results}")


def headline(results: Path, boot) -> None:
    long = c.read_long(results / "default" / "per_patient.csv")
    old = {r["model"]: r.get("config", "") for r in c.read_csv(results / "headline.csv")} \
        if (results / "headline.csv").is_file() else {}
    write_tables(results, long, boot, old if any(old.values()) else None)  # no blank config column
    print(f"re-collected {results}/headline.csv, paired_differences.csv and default/all_tests.csv")


def runs_table(out: Path, named: list[str], baseline: str | None, boot) -> None:
    long = []
    for item in named:
        if Path(item).is_dir():  # a run folder alone is named by its folder name
            name, folder, seed = Path(item).name, item, ""
        else:
            name, _, folder = item.partition("=")
            folder, _, seed = folder.partition(":")
        if not folder:
            raise DataError(f"{item!r}: give NAME=EVAL_DIR[:SEED] or an existing run folder.")
        match = re.fullmatch(r"(.+)_seed(\d+)", name)
        config, seed = (match.group(1), seed or match.group(2)) if match else (name, seed or None)
        long += [{**r, "model": config} for r in c.evaluation_long(Path(folder), seed)]
    configs = c.models_of(long)
    c.check_seeds(long, configs)
    if baseline is not None and baseline not in configs:
        raise DataError(f"--baseline {baseline!r} is none of the runs {configs}.")
    pairs = [(m, baseline) for m in configs if m != baseline] if baseline else c.all_pairs(configs)
    c.write_csv(out.with_name(out.name + "_per_patient.csv"), long)
    c.write_csv(out.with_name(out.name + ".csv"), c.summarise(long, *boot, configs))
    diffs = c.paired(long, pairs, *boot)
    if diffs:
        c.write_csv(out.with_name(out.name + "_paired.csv"), diffs)
    print(f"written {out}.csv ({len(configs)} runs)")


def evaluations(out: Path, labelled: list[str], seed: str | None, boot) -> None:
    summaries, diffs, longs = [], [], []
    for item in labelled:
        label, _, folders = item.partition("=")
        if not folders:
            raise DataError(f"{item!r}: give LABEL=EVAL_DIR[,EVAL_DIR...].")
        long = [r for folder in folders.split(",") for r in c.evaluation_long(Path(folder), seed)]
        models = c.models_of(long, MODELS)
        seeds = c.check_seeds(long, models)
        n = {m: f"{len(v)} seed{'s' if len(v) > 1 else ''} ({' '.join(v)})" for m, v in seeds.items()}
        summaries += [{"run": label, "seeds": n[r["model"]], **r} for r in c.summarise(long, *boot, models)]
        diffs += [{"run": label, **r} for r in c.paired(long, c.all_pairs(models), *boot)]
        longs += [{"run": label, **r} for r in long]
    c.write_csv(out.with_name(out.name + ".csv"), summaries)
    c.write_csv(out.with_name(out.name + "_paired.csv"), diffs)
    c.write_csv(out.with_name(out.name + "_per_patient.csv"), longs)
    print(f"written {out}.csv, {out.name}_paired.csv, {out.name}_per_patient.csv")


def quality(out: Path, validation: Path, test: Path | None) -> None:
    val_rows = [r for r in c.read_metrics(validation / "metrics.csv") if r["test"] != "shift_validation_volumes"]
    kinds = [k[3:] for k in val_rows[0] if k.startswith("qc_")]
    if not kinds:
        raise DataError(f"{validation}/metrics.csv has no qc_* column; evaluate with evaluation.quality_scores=[flip,modes].")
    by_kind = {k: c.quality_rank_table(val_rows, k) for k in kinds}
    median = {k: float(np.nanmedian([r["spearman_rho"] for r in t])) for k, t in by_kind.items()}
    kind = max(kinds, key=lambda k: median[k])
    if (validation / "volume_slices.csv").is_file():  # shift-validation volumes scored too: one threshold for both
        from spine_synthseg.evaluation.volume_metrics import SLICE_MM3
        from spine_synthseg.evaluation.volume_report import qc_flag_table

        slices = c.read_csv(validation / "volume_slices.csv")
        choice = c.choose_joint_threshold(val_rows, slices, kind, SLICE_MM3)
        thresholds = {r["model"]: choice["threshold"] for r in slices}  # one threshold, every model
        c.write_csv(out.with_name(out.name + "_volumes.csv"),  # per model: the flag on the volumes' slices
                    qc_flag_table(slices, thresholds, f"qc_{kind}"))
    else:
        choice = c.choose_threshold(val_rows, kind)
    choice = {**choice, "median_validation_rho": median, "validation": str(validation)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_name(out.name + "_threshold.json").write_text(json.dumps(choice, indent=2))
    rows = [{"role": "validation", **r} for k in kinds for r in c.quality_rank_table(val_rows, k, choice["threshold"]
                                                                                  if k == kind else None)]
    if test is not None:
        rows += [{"role": "test", **r} for r in c.quality_rank_table(c.read_metrics(test / "metrics.csv"), kind,
                                                                     choice["threshold"])]
    c.write_csv(out.with_name(out.name + ".csv"), [{k: r.get(k, "") for k in rows[-1] | rows[0]} for r in rows])
    print(f"chose {kind} (median validation rho {median}) threshold {choice['threshold']:.3f}; written {out}.csv")


def compare(old_dir: Path, new_dir: Path, out: Path, boot) -> None:
    old, new = (c.read_long(d / "default" / "per_patient.csv") for d in (old_dir, new_dir))
    rows = []
    for model in c.models_of(old + new, MODELS):
        tagged = [{**r, "model": "old"} for r in old if r["model"] == model] + \
                 [{**r, "model": "new"} for r in new if r["model"] == model]
        means = {(r["test"], r["model"]): r["mean"] for r in c.select(c.summarise(tagged, *boot), HEADLINE)}
        for r in c.select(c.paired(tagged, [("new", "old")], *boot), HEADLINE):
            rows.append({"test": r["test"], "model": model, "metric": c.HEADLINE_METRIC[r["metric"]],
                         "old_mean": means[(r["test"], "old")], "new_mean": means[(r["test"], "new")],
                         **{k: v for k, v in r.items() if k not in ("test", "model_a", "model_b", "metric")}})
    if not rows:
        raise DataError(f"no headline test in common between {old_dir} and {new_dir}.")
    c.write_csv(out, rows)
    print(f"written {out} ({len(rows)} rows)")


def realism(results: Path, runs: Path, baseline: str | None, name: str, boot) -> None:
    from spine_synthseg.evaluation import axes
    from spine_synthseg.evaluation.figures import front_plot

    trained = sorted(p.parent for p in runs.glob("*/seed*/metrics.json"))
    if not trained:
        raise DataError(f"No <variant>/seed<k>/metrics.json under {runs}; train the runs first "
                        "(python run.py experiment=realism/<variant> seed=<k> hydra.run.dir=RUNS/<variant>/seed<k>).")
    unscored = [str(p) for p in trained if not (p / "eval_val" / "metrics.csv").is_file()]
    if unscored:
        raise DataError(f"{len(unscored)} runs are not scored on the validation axes ({unscored[:3]} ...); "
                        "score each: python run.py mode=evaluate 'evaluation.tests=[validation,shift_validation]' "
                        "evaluation.checkpoints.model_a=RUN/checkpoints/best.ckpt hydra.run.dir=RUN/eval_val")
    long, rows = [], []
    for run in trained:
        meta = json.loads((run / "metrics.json").read_text())
        variant = run.parent.name
        one = axes.relabel(c.evaluation_long(run / "eval_val"), variant, meta["seed"])
        long += one
        rows.append({"variant": variant, "experiment": meta.get("experiment"), "seed": meta["seed"],
                     "steps": meta["max_steps"], "commit": meta.get("commit", "unknown"),
                     "strength": meta.get("strength"), "train_seconds": meta["train_seconds"],
                     **axes.run_values(one)})
    results.mkdir(parents=True, exist_ok=True)
    c.write_csv(results / f"{name}.csv", rows)
    c.write_csv(results / f"{name}_per_patient.csv", long)
    summary = axes.summarise_axes(long, baseline, *boot)
    c.write_csv(results / f"{name}_summary.csv", summary)
    front_plot(summary, results / f"{name}_front.png", f"{name}: {len(rows)} runs, {len(summary)} variants")
    print(f"written {results}/{name}.csv ({len(rows)} runs), {name}_summary.csv, {name}_front.png")


def freeze_validation(results: Path, runs: Path, boot) -> None:
    """The freeze candidates (protocol.md entry 3) on the two validation axes: run folders <model>_seed<k>/ with
    eval_val_<mode>/ -> RESULTS/validation_per_patient.csv (model = <model>[+column]@<mode>), validation_modes.csv
    (per model: each mode and the column band against its own sliding window, paired over patients and seeds),
    validation_models.csv (per mode and post-processing: each model against model_b_aug, and model_a_combined
    against model_a), validation_hd95.csv (vertebra HD95 in mm on the validation patients), validation_front.png."""
    from spine_synthseg.evaluation import axes
    from spine_synthseg.evaluation.figures import front_plot

    trained = sorted(p.parent for p in runs.glob("*_seed*/metrics.json"))
    unscored = [str(r) for r in trained if not list(r.glob("eval_val_*/metrics.csv"))]
    if not trained or unscored:
        raise DataError(f"no scored runs <model>_seed<k>/eval_val_<mode>/ under {runs} (unscored: {unscored[:3]}); "
                        "score each on both validation axes: python run.py mode=evaluate "
                        "'evaluation.tests=[validation,shift_validation]' inference_mode=MODE "
                        "++evaluation.checkpoints.<model>=RUN/checkpoints/best.ckpt hydra.run.dir=RUN/eval_val_MODE")
    long = []
    for run in trained:
        seed = str(json.loads((run / "metrics.json").read_text())["seed"])
        for ev in sorted(run.glob("eval_val_*/metrics.csv")):
            mode = ev.parent.name.removeprefix("eval_val_")
            long += [{**r, "model": f"{r['model']}@{mode}", "seed": seed} for r in c.evaluation_long(ev.parent)]
    c.check_seeds(long, c.models_of(long))
    split = lambda name: (name.split("@")[0].split("+")[0], "+" + name.split("+")[1].split("@")[0]  # noqa: E731
                          if "+" in name else "", name.split("@")[1])
    bases = sorted({split(r["model"])[0] for r in long})
    modes = sorted({split(r["model"])[2] for r in long})
    posts = sorted({split(r["model"])[1] for r in long})
    tag = lambda rows, **kw: [{**kw, "model": split(r["variant"])[0], "postprocess": split(r["variant"])[1] or  # noqa: E731
                               "none", "mode": split(r["variant"])[2], **r} for r in rows]
    by_mode, by_model = [], []
    for b in bases:
        mine = [r for r in long if split(r["model"])[0] == b]
        by_mode += tag(axes.summarise_axes(mine, f"{b}@{MODE}" if f"{b}@{MODE}" in
                                           {r["model"] for r in mine} else None, *boot), reference=MODE)
    for mode in modes:
        for post in posts:
            here = [r for r in long if split(r["model"])[1:] == (post, mode)]
            for ref, members in (("model_b_aug", bases), ("model_a", ["model_a", "model_a_combined"])):
                rows = [r for r in here if split(r["model"])[0] in members]
                name = f"{ref}{post}@{mode}"
                if rows and name in {r["model"] for r in rows}:
                    by_model += tag(axes.summarise_axes(rows, name, *boot), reference=ref)
    hd = [r for r in long if r["test"] == "validation" and r["metric"] == "hd95_mm" and r["structure"] == "vertebra"]
    results.mkdir(parents=True, exist_ok=True)
    c.write_csv(results / "validation_per_patient.csv", long)
    c.write_csv(results / "validation_modes.csv", by_mode)
    c.write_csv(results / "validation_models.csv", by_model)
    if hd:
        c.write_csv(results / "validation_hd95.csv", c.summarise(hd, *boot))
    front = [r for r in by_model if r["reference"] == "model_b_aug"]
    front_plot(front, results / "validation_front.png", f"freeze candidates: {len(trained)} runs, every model x "
               "inference mode (+column: the column band), validation axes;\nnamed: the sliding window without the band, "
               "pale: the other modes (validation_modes.csv)", labelled=lambda r: r["variant"].endswith(f"@{MODE}")
               and "+" not in r["variant"])
    print(f"written {results}/validation_modes.csv, validation_models.csv, validation_hd95.csv, validation_front.png")


def axes_table(out: Path, folder: Path, seed: str | None, boot) -> None:
    from spine_synthseg.evaluation import axes

    long = c.evaluation_long(folder, seed)
    plain = [m for m in c.models_of(long) if "+" not in m]
    rows = []
    for m in plain:
        mine = [r for r in long if r["model"] == m or r["model"].startswith(m + "+")]
        rows += [{"model": m, **r} for r in axes.summarise_axes(mine, m, *boot)]
    out.parent.mkdir(parents=True, exist_ok=True)
    c.write_csv(out, rows)
    print(f"written {out} ({len(rows)} rows)")


def volumes(results: Path, outputs: Path) -> None:
    """The whole-volume report (results/protocol.md entry 4) from the evaluations OUTPUTS/{shift_val,test}_<mode>/
    of the configured mode: RESULTS/qc_flag.csv (the quality flag against the lateral slices with false spine,
    shift-validation volumes), {shift_val,test}_slices.csv (every slice), false_spine_profile.png and
    volume_slices.png (test: the subject with the upper median of Model A's false_spine_ml)."""
    import SimpleITK as sitk

    from spine_synthseg.data.orientation import SagittalLayout
    from spine_synthseg.evaluation import volume_report as vr
    from spine_synthseg.evaluation.volume_evaluation import body_values, read_bodies
    from spine_synthseg.models.checkpoint import load_checkpoint

    shift, test = outputs / f"shift_val_{MODE}", outputs / f"test_{MODE}"
    results.mkdir(parents=True, exist_ok=True)
    checkpoints = json.loads((shift / "summary.json").read_text())["checkpoints"]
    thresholds = {m: load_checkpoint(p).quality["threshold"] for m, p in checkpoints.items()}
    shift_slices, test_slices = c.read_csv(shift / "volume_slices.csv"), c.read_csv(test / "volume_slices.csv")
    c.write_csv(results / "qc_flag.csv", vr.qc_flag_table(shift_slices, thresholds))
    shutil.copy(shift / "volume_slices.csv", results / "shift_val_slices.csv")
    shutil.copy(test / "volume_slices.csv", results / "test_slices.csv")
    styles = families.models(CATALOG)
    names = {m: (v["short"], v["colour"]) for m, v in styles.items()}
    vr.false_spine_profile_plot(test_slices, names, results / "false_spine_profile.png",
                                f"The {len({r['patient'] for r in test_slices})} Dixon test volumes, shipped models, "
                                f"{MODE}: mean over volumes per slice")
    rows = [r for r in c.read_metrics(test / "metrics.csv") if r["test"] == "volumes"]
    a = sorted((r["false_spine_ml"], r["patient"]) for r in rows if r["model"] == "model_a")
    subject = a[len(a) // 2][1]  # the median Model A false spine (the upper median for an even count)
    (record,) = [v for v in families.volumes(families.families(CATALOG)["dixon_volumes"]) if v.subject == subject]
    image = sitk.ReadImage(str(record.image))
    layout = SagittalLayout.of(image)
    bodies = read_bodies(record.mask, layout, body_values(record.image.parents[1]))
    labels = [(names[m][0], layout.to_slices(sitk.ReadImage(str(test / "volumes" / m / "dixon_water_3d" / f"{subject}.nii.gz"))))
              for m in styles if (test / "volumes" / m).is_dir()]
    mine = [r for r in test_slices if r["patient"] == subject and r["model"] == "model_a"]
    central = next(int(r["slice"]) for r in mine if float(r["distance_mm"]) == 0)
    lateral = [int(r["slice"]) for r in mine if r["lateral"] in ("True", "true")]
    vr.slices_figure(labels, layout.to_slices(image), bodies, central, float(image.GetSpacing()[layout.sagittal]),
                     lateral, results / "volume_slices.png", f"test subject {subject} (the upper median of Model A's "
                     f"false spine), {MODE}; "
                     "white: labelled bodies; yellow / green / blue: predicted vertebra / disc / canal")
    print(f"written {results}/qc_flag.csv, shift_val_slices.csv, test_slices.csv, false_spine_profile.png, "
          f"volume_slices.png (subject {subject})")


def main(argv: list[str] | None = None, cfg=None) -> None:
    """argv: a subcommand and its arguments (default sys.argv); cfg: a composed config (``run.py mode=collect``)
    instead of composing one from the overrides after `--`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    overrides = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("experiment")
    p.add_argument("runs", type=Path)
    p.add_argument("results", type=Path)
    sub.add_parser("headline").add_argument("results", type=Path)
    p = sub.add_parser("runs")
    p.add_argument("out", type=Path)
    p.add_argument("named", nargs="+")
    p.add_argument("--baseline")
    p = sub.add_parser("evaluation")
    p.add_argument("out", type=Path)
    p.add_argument("labelled", nargs="+")
    p.add_argument("--seed")
    p = sub.add_parser("qc")
    p.add_argument("out", type=Path)
    p.add_argument("--validation", type=Path, required=True)
    p.add_argument("--test", type=Path)
    p = sub.add_parser("compare")
    for name in ("old", "new", "out"):
        p.add_argument(name, type=Path)
    p = sub.add_parser("realism")
    p.add_argument("results", type=Path)
    p.add_argument("runs", type=Path)
    p.add_argument("--baseline")
    p.add_argument("--name", default="screening")
    p = sub.add_parser("freeze")
    p.add_argument("results", type=Path)
    p.add_argument("runs", type=Path)
    p = sub.add_parser("axes")
    p.add_argument("out", type=Path)
    p.add_argument("folder", type=Path)
    p.add_argument("--seed")
    p = sub.add_parser("volumes")
    p.add_argument("results", type=Path)
    p.add_argument("outputs", type=Path)
    p = sub.add_parser("absence")
    p.add_argument("results", type=Path)
    p.add_argument("runs", type=Path, nargs="+")
    p.add_argument("--margin", type=float, default=-0.01)
    p = sub.add_parser("volume_freeze")
    p.add_argument("results", type=Path)
    p.add_argument("runs", type=Path)
    p.add_argument("--margin", type=float, default=-0.01)
    p = sub.add_parser("curves")
    p.add_argument("prefix", type=Path)
    p.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "curves":
            export(args.prefix, args.runs)
            return
        boot = bootstrap(overrides, cfg)
        if args.command == "experiment":
            experiment(args.runs, args.results, boot)
        elif args.command == "headline":
            headline(args.results, boot)
        elif args.command == "evaluation":
            evaluations(args.out, args.labelled, args.seed, boot)
        elif args.command == "qc":
            quality(args.out, args.validation, args.test)
        elif args.command == "absence":
            from spine_synthseg.evaluation.absence_screen import collect as collect_absence

            print(json.dumps(collect_absence(args.results, args.runs, *boot, args.margin), indent=1))
        elif args.command == "volume_freeze":
            from spine_synthseg.evaluation.volume_freeze import collect as collect_freeze

            print(json.dumps(collect_freeze(args.results, args.runs, MODE, *boot, args.margin), indent=1))
        elif args.command == "axes":
            axes_table(args.out, args.folder, args.seed, boot)
        elif args.command == "freeze":
            freeze_validation(args.results, args.runs, boot)
        elif args.command == "realism":
            realism(args.results, args.runs, args.baseline, args.name, boot)
        elif args.command == "volumes":
            volumes(args.results, args.outputs)
        elif args.command == "runs":
            runs_table(args.out, args.named, args.baseline, boot)
        else:
            compare(args.old, args.new, args.out, boot)
    except DataError as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
