"""The one collector: evaluation rows -> one long per-patient table -> summaries and paired differences.

The long table has one row per (seed, model, test, variant, structure, metric, patient) and its value; a
patient's value is the mean over its images, image -> series -> patient (``aggregation.patient_values``). An
evaluation run (metrics.csv), a default experiment (``results/archive/default/per_patient.csv``) and a screening are all
this table; every statistic of the project is computed from it here.

Statistics, for one (model, test, variant, structure, metric) with values V[seed, patient]:
  mean      mean over patients of the per-patient mean over seeds (= mean over seeds of each seed's patient mean
            when no value is missing).
  CI        two-level percentile bootstrap: each draw resamples the patients, then each model's seeds
            independently, and recomputes the mean; so the CI holds patient and seed variance.
  seed_sd   standard deviation over seeds of each seed's mean over patients (ddof 1; NaN for one seed).
Paired differences (model a - model b) resample the patients once for both models (paired) and the seeds of
each model independently (the seeds of two models are different trainings, not pairs).
"""

from __future__ import annotations

import csv
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

from spine_synthseg.errors import DataError
from spine_synthseg.evaluation.aggregation import METRICS, PAIRED_METRICS, patient_values, with_sequence_groups

LONG_FIELDS = ("seed", "model", "test", "variant", "structure", "metric", "patient", "value")
KEY_FIELDS = ("model", "test", "variant", "structure", "metric")


# ---- the long table ---------------------------------------------------------------------------------------------

def long_table(rows: list[dict], seed: str | int | None = None) -> list[dict]:
    """The long table of one evaluation's image rows (metrics.csv). Each row's seed is its ``seed`` column
    (the checkpoint's training seed); `seed` fills it where the rows have none (evaluations written before the
    column existed)."""
    seeds = {}
    for r in rows:
        s = r.get("seed", "")
        s = seed if s in ("", None) else s
        if s in ("", None):
            raise DataError(f"evaluation rows of {r['model']} have no seed; pass the seed of the checkpoints.")
        if seeds.setdefault(r["model"], str(s)) != str(s):
            raise DataError(f"{r['model']} has rows of seeds {seeds[r['model']]} and {s}; one evaluation scores one "
                            f"checkpoint per model name.")
    out = []
    grouped = with_sequence_groups(rows)
    for metric in METRICS:
        for (model, test, variant, structure), patients in patient_values(grouped, metric).items():
            out += [{"seed": seeds[model], "model": model, "test": test, "variant": variant, "structure": structure,
                     "metric": metric, "patient": p, "value": v} for p, v in patients.items()]
    return out


def read_csv(path: str | Path) -> list[dict]:
    """A CSV as dicts; missing file: DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist; run the evaluation (or collection) that writes it first.")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_metrics(path: str | Path) -> list[dict]:
    """An evaluation's metrics.csv with its metric columns as floats (empty cells: NaN)."""
    rows = read_csv(path)
    for r in rows:
        for m in METRICS:
            r[m] = float(r[m]) if r.get(m) not in (None, "") else float("nan")
    return rows


def read_long(path: str | Path) -> list[dict]:
    """A long table (per_patient.csv) with float values; a missing column is a DataError naming the file."""
    rows = read_csv(path)
    if rows and set(LONG_FIELDS) - set(rows[0]):
        raise DataError(f"{path} lacks the columns {sorted(set(LONG_FIELDS) - set(rows[0]))} of a long table.")
    for r in rows:
        r["value"] = float(r["value"])
    return rows


def write_csv(path: str | Path, rows: list[dict]) -> None:
    """Rows as CSV (floats with 4 decimals; the columns of every row, blank where a row has none); no rows: DataError
    (an empty table is never a result)."""
    if not rows:
        raise DataError(f"nothing to write to {path}: no rows.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), restval="")
        writer.writeheader()
        writer.writerows({k: _fmt(v) for k, v in r.items()} for r in rows)


def _fmt(v):
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return v


def index(long: Iterable[dict]) -> dict[tuple, dict[str, dict[str, float]]]:
    """{(model, test, variant, structure, metric): {seed: {patient: value}}}; NaN values dropped."""
    out: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for r in long:
        v = float(r["value"])
        if v == v:
            out[tuple(r[k] for k in KEY_FIELDS)][str(r["seed"])][r["patient"]] = v
    return {k: dict(v) for k, v in out.items()}


def matrix(values: dict[str, dict[str, float]], patients: Sequence[str]) -> np.ndarray:
    """(seeds, patients) array of one key's values, NaN where a seed has no value for a patient."""
    return np.array([[by_patient.get(p, np.nan) for p in patients] for _, by_patient in sorted(values.items())])


# ---- the bootstrap ----------------------------------------------------------------------------------------------

def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def two_level_bootstrap(arrays: Sequence[np.ndarray], signs: Sequence[float], n_boot: int, confidence: float,
                        seed: int) -> tuple[float, float, float]:
    """(estimate, low, high) of sum_k signs[k] * mean over patients of (mean over seeds of arrays[k]).

    arrays: (seeds_k, patients) each, the same patients in the same column order (paired); NaN = missing. Each of
    the n_boot draws resamples the patient columns once for all arrays, then the seed rows of each array
    independently; the CI is the percentile interval of the draws at `confidence` (e.g. 0.95).
    """
    if not 0 < confidence < 1 or n_boot < 1:
        raise DataError(f"evaluation.confidence={confidence} must lie in (0, 1) and evaluation.bootstrap_samples="
                        f"{n_boot} be >= 1.")
    n_patients = arrays[0].shape[1]
    if n_patients == 0:
        return float("nan"), float("nan"), float("nan")
    estimate = float(sum(s * np.nanmean(_nanmean(a, 0)) for a, s in zip(arrays, signs)))
    draws = bootstrap_draws(arrays, signs, n_boot, np.random.default_rng(seed))
    return (estimate, *percentile_ci(draws, confidence))


def bootstrap_draws(arrays: Sequence[np.ndarray], signs: Sequence[float], n_boot: int,
                    rng: np.random.Generator, over_patients=None) -> np.ndarray:
    """The n_boot draws of ``two_level_bootstrap`` (patients resampled once for all arrays, then each array's
    seeds), for statistics that combine independent draws (e.g. the mean of two shift-validation sets).
    over_patients: the statistic over the patients' seed means, (x, axis) -> array (default the mean)."""
    over_patients = over_patients or _nanmean
    n_patients = arrays[0].shape[1]
    cols = rng.integers(0, n_patients, size=(n_boot, n_patients))
    draws = np.zeros(n_boot)
    for a, s in zip(arrays, signs):
        rows = rng.integers(0, a.shape[0], size=(n_boot, a.shape[0]))
        resampled = a[rows[:, :, None], cols[:, None, :]]  # (n_boot, seeds, patients)
        draws += s * over_patients(_nanmean(resampled, 1), 1)
    return draws


def _nanmedian(x: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(x, axis=axis)


MEDIAN_METRICS = ("false_spine_ml",)  # skewed per-volume values: the median over patients is reported beside the mean


def median_ci(a: np.ndarray, n_boot: int, confidence: float, seed: int) -> tuple[float, float, float]:
    """(median over patients of each patient's seed mean, two-level percentile CI) of one (seeds, patients) array."""
    if a.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    draws = bootstrap_draws([a], [1.0], n_boot, np.random.default_rng(seed), _nanmedian)
    return (float(np.nanmedian(_nanmean(a, 0))), *percentile_ci(draws, confidence))


def percentile_ci(draws: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of bootstrap draws at `confidence`."""
    alpha = (1 - confidence) / 2
    lo, hi = np.nanquantile(draws, [alpha, 1 - alpha])
    return float(lo), float(hi)


def seed_sd(a: np.ndarray) -> float:
    """Standard deviation over seeds (rows) of each seed's mean over patients; NaN for one seed."""
    per_seed = _nanmean(a, 1)
    return float(np.std(per_seed, ddof=1)) if per_seed.size > 1 else float("nan")


# ---- summaries and paired differences ---------------------------------------------------------------------------

def _order(models: Sequence[str]):
    return lambda k: (models.index(k[0]) if k[0] in models else len(models), k[0]) + tuple(k[1:])


def summarise(long: Iterable[dict], n_boot: int, confidence: float, seed: int,
              models: Sequence[str] = ()) -> list[dict]:
    """One row per (model, test, variant, structure, metric): mean, two-level CI, seed_sd, n_patients, n_seeds;
    for MEDIAN_METRICS also the median over patients with its two-level CI."""
    out = []
    idx = index(long)
    for key in sorted(idx, key=_order(list(models))):
        patients = sorted({p for by_patient in idx[key].values() for p in by_patient})
        a = matrix(idx[key], patients)
        m, lo, hi = two_level_bootstrap([a], [1.0], n_boot, confidence, seed)
        row = {**dict(zip(KEY_FIELDS, key)), "mean": m, "ci_low": lo, "ci_high": hi, "seed_sd": seed_sd(a),
               "n_patients": len(patients), "n_seeds": a.shape[0]}
        if key[4] in MEDIAN_METRICS:
            row |= dict(zip(("median", "median_ci_low", "median_ci_high"), median_ci(a, n_boot, confidence, seed)))
        out.append(row)
    return out


def paired(long: Iterable[dict], pairs: Sequence[tuple[str, str]], n_boot: int, confidence: float, seed: int,
           metrics: Sequence[str] = PAIRED_METRICS, same_runs: bool = False) -> list[dict]:
    """Per pair (a, b) and (test, variant, structure, metric) both have: a - b over their common patients,
    two-level CI (patients paired), each model's seed SD, n_patients and each model's n_seeds.

    same_runs: both sides score the same checkpoints (another inference mode, a post-processing rule on and off),
    so the seeds pair too: the difference is taken per seed and patient first (their common seeds), then
    bootstrapped; resampling the two sides' seeds apart would measure the models' seed-to-seed spread instead.
    """
    idx = index(long)
    out = []
    for a, b in pairs:
        for key in sorted(k for k in idx if k[0] == a and k[4] in metrics):
            other = (b,) + key[1:]
            if other not in idx:
                continue
            if same_runs:
                seeds = sorted(set(idx[key]) & set(idx[other]))
                idx_a, idx_b = ({s: idx[k][s] for s in seeds} for k in (key, other))
            else:
                idx_a, idx_b = idx[key], idx[other]
            common = sorted({p for v in idx_a.values() for p in v} & {p for v in idx_b.values() for p in v})
            if not common:
                continue
            va, vb = matrix(idx_a, common), matrix(idx_b, common)
            if same_runs:
                m, lo, hi = two_level_bootstrap([va - vb], [1.0], n_boot, confidence, seed)
            else:
                m, lo, hi = two_level_bootstrap([va, vb], [1.0, -1.0], n_boot, confidence, seed)
            out.append({"model_a": a, "model_b": b, **dict(zip(KEY_FIELDS[1:], key[1:])), "diff_mean": m,
                        "ci_low": lo, "ci_high": hi, "seed_sd_a": seed_sd(va), "seed_sd_b": seed_sd(vb),
                        "n_patients": len(common), "n_seeds_a": va.shape[0], "n_seeds_b": vb.shape[0]})
    return out


def all_pairs(models: Sequence[str]) -> list[tuple[str, str]]:
    """Every ordered pair (first - second) of `models` in their order."""
    return list(combinations(models, 2))


def models_of(long: Iterable[dict], order: Sequence[str] = ()) -> list[str]:
    """The models of a long table: those of `order` first, in its order, then the others sorted."""
    found = {r["model"] for r in long}
    return [m for m in order if m in found] + sorted(found - set(order))


def select(rows: list[dict], named, label: str = "test") -> list[dict]:
    """Rows of a summary or paired table renamed by `named` ({name: (test, variant, structure, metric)}, or
    (name, key) pairs where a name has several keys), in the order of `named`: e.g. the headline tests."""
    out = []
    for name, (test, variant, structure, metric) in (named.items() if isinstance(named, Mapping) else named):
        for r in rows:
            if (r["test"], r["variant"], r["structure"], r["metric"]) == (test, variant, structure, metric):
                rest = {k: v for k, v in r.items() if k not in ("test", "variant", "structure")}
                out.append({label: name, **rest})
    return out


def check_seeds(long: Iterable[dict], models: Sequence[str]) -> dict[str, list[str]]:
    """{model: its seeds}; models with different seed sets are a DataError (a finished experiment has the same
    seeds for every model)."""
    seeds: dict[str, set[str]] = defaultdict(set)
    for r in long:
        seeds[r["model"]].add(str(r["seed"]))
    found = {m: sorted(seeds[m]) for m in models if m in seeds}
    if len({tuple(v) for v in found.values()}) > 1:
        raise DataError(f"the models were evaluated with different seeds {found}; finish the missing runs.")
    return found


def evaluation_summary(rows: list[dict], models: Sequence[str], n_boot: int, confidence: float, seed: int) -> dict:
    """The summary of one evaluation run (summary.json): the long table's summaries ("aggregates") and the paired
    differences of every pair of `models`, first - second."""
    long = long_table(rows)
    return {"models": list(models), "confidence": confidence, "bootstrap_samples": n_boot,
            "aggregates": summarise(long, n_boot, confidence, seed, models),
            "paired_differences": paired(long, all_pairs(models), n_boot, confidence, seed)}


# ---- run folders ------------------------------------------------------------------------------------------------

HEADLINE_METRIC = {"dice": "dice_mean", "vb_dice": "vb_dice", "vb_dice3d": "vb_dice3d",
                   "false_spine_ml": "false_spine_ml", "false_spine_slices": "false_spine_slices"}  # in headline.csv
VOLUME_EXTRA = ("false_spine_ml", "false_spine_slices")  # a volume family's headline rows beside its vb_dice3d


def evaluation_long(folder: str | Path, seed: str | int | None = None) -> list[dict]:
    """The long table of one evaluation run folder (its metrics.csv; a training run's evaluation/metrics.csv).
    seed: for rows that carry none (evaluations written before the seed column)."""
    folder = Path(folder)
    path = folder / "metrics.csv"
    if not path.is_file() and (folder / "evaluation" / "metrics.csv").is_file():
        path = folder / "evaluation" / "metrics.csv"
    return long_table(read_metrics(path), seed)


def base_model(label: str) -> str:
    """The checkpoint behind a model label: 'model_a+no_rule' (its volumes without the volume rule) -> 'model_a'."""
    return label.split("+")[0]


def experiment_tables(long: list[dict], n_boot: int, confidence: float, seed: int, headline: dict[str, tuple],
                      models: Sequence[str], configs: dict | None = None) -> dict[str, list[dict]]:
    """The tables of a default experiment's long table: "all_tests" (every summary row), "headline" (the
    `headline` families, {name: (test, variant, structure, metric)} from ``families.headline_keys``, x `models`, with
    each model's `configs` entry) and "paired_differences" (every pair of `models` on them). Models with different
    seed sets are an error."""
    models = models_of(long, models)
    check_seeds([r for r in long if r["test"] in {t for t, *_ in headline.values()}], models)
    summary = summarise(long, n_boot, confidence, seed, models)
    headline = [(n, k) for n, k in headline.items()] + [(n, (*k[:3], m)) for n, k in headline.items()
                                                        if k[3] == "vb_dice3d" for m in VOLUME_EXTRA]
    wanted = {k for _, k in headline}
    headline_long = [r for r in long if (r["test"], r["variant"], r["structure"], r["metric"]) in wanted]
    every = all_pairs(models)
    within = [(a, b) for a, b in every if base_model(a) == base_model(b)]  # e.g. model_a and model_a+no_rule
    pairs = (paired(headline_long, [x for x in every if x not in within], n_boot, confidence, seed)
             + paired(headline_long, within, n_boot, confidence, seed, same_runs=True))
    rows = [{**r, "metric": HEADLINE_METRIC[r["metric"]], **({"config": configs.get(r["model"], "")} if configs else {})}
            for r in select(summary, headline)]
    differences = [{**r, "metric": HEADLINE_METRIC[r["metric"]]} for r in select(pairs, headline)]
    return {"all_tests": summary, "headline": rows, "paired_differences": differences}


def run_config(run: str | Path) -> str:
    """What trained a run, from its Hydra record: experiment, data, trainer (steps, precision), scheduler and the
    other overrides, e.g. 'experiment=model_a (data=synth, trainer=cpu, budget=default: 2000 steps bf16-mixed, ...)'."""
    import yaml

    hydra_dir = Path(run) / ".hydra"
    if not hydra_dir.is_dir():
        raise DataError(f"{run} has no .hydra record; pass a run folder written by run.py.")
    choices = yaml.safe_load((hydra_dir / "hydra.yaml").read_text())["hydra"]["runtime"]["choices"]
    resolved = hydra_dir.parent / "config_resolved.yaml"  # interpolations resolved (older runs: Hydra's own)
    cfg = yaml.safe_load((resolved if resolved.is_file() else hydra_dir / "config.yaml").read_text())
    skip = ("hydra.", "seed=", "experiment=", "evaluate_after_fit", "trainer.enable_progress_bar", "skip_done", "collect")
    extra = [o for o in yaml.safe_load((hydra_dir / "overrides.yaml").read_text()) if not o.startswith(skip)]
    precision = cfg["trainer"].get("precision", "32-true")
    if choices["data"] in ("synth", "mixed"):  # how synthetic images are normalised (null: min-max)
        percentiles = cfg["synth"].get("output_percentiles")
        extra.insert(0, f"synth.output_percentiles={'null' if percentiles is None else percentiles}")
    device = f"trainer={choices['trainer']}" + (f", budget={choices['budget']}" if choices.get("budget") else "")
    return (f"experiment={choices.get('experiment') or choices['data']} (data={choices['data']}, {device}: "
            f"{cfg['trainer']['max_steps']} steps {precision}, scheduler={choices['scheduler']}"
            f"{''.join(', ' + o for o in extra)})")


def run_seconds(log: str | Path) -> float:
    """Duration of one run: from the first to the last timestamped line of its Hydra run.log."""
    from datetime import datetime

    stamps = [datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f") for line in Path(log).read_text().splitlines()
              if line.startswith("[20")]
    return (stamps[-1] - stamps[0]).total_seconds() if stamps else 0.0


# ---- quality scores (models/quality.py) -------------------------------------------------------------------------

FAILURE_DICE = 0.7  # a slice below this Dice (mean over structures, or vb_dice) counts as a failure for the threshold


def image_scores(rows: list[dict], kind: str) -> dict[tuple, list[tuple[str, float, float]]]:
    """{(model, test, variant): [(patient, quality score, Dice) per image]}: Dice is the image's mean over its
    scored structures, or vb_dice where only bodies are labelled. Images without a score or a Dice are left out."""
    column = f"qc_{kind}"
    per_image: dict[tuple, dict] = defaultdict(dict)
    for r in rows:
        key = (r["model"], r["test"], r["variant"], r["patient"], r["image"])
        q, d = float(r.get(column, "nan")), float(r["vb_dice"] if r["structure"] == "vertebral_body" else r["dice"])
        entry = per_image[key].setdefault("dice", [])
        if d == d:
            entry.append(d)
        per_image[key]["qc"] = q
    out: dict[tuple, list] = defaultdict(list)
    for (model, test, variant, patient, _), v in per_image.items():
        if v["dice"] and v["qc"] == v["qc"]:
            out[(model, test, variant)].append((patient, v["qc"], float(np.mean(v["dice"]))))
    return dict(out)


def quality_rank_table(rows: list[dict], kind: str, threshold: float | None = None) -> list[dict]:
    """Per model and test variant: Spearman rho between the quality score and Dice over images, n images and
    patients, the share of failures (Dice < FAILURE_DICE) and, with a threshold, how many slices it flags and how
    many of the failures it catches."""
    from scipy.stats import spearmanr

    out = []
    for (model, test, variant), items in sorted(image_scores(rows, kind).items()):
        q, d = np.array([i[1] for i in items]), np.array([i[2] for i in items])
        rho = float(spearmanr(q, d).statistic) if len(items) > 2 and q.std() > 0 and d.std() > 0 else float("nan")
        row = {"model": model, "test": test, "variant": variant, "score": kind, "spearman_rho": rho,
               "n_images": len(items), "n_patients": len({i[0] for i in items}), "mean_dice": float(d.mean()),
               "failure_share": float((d < FAILURE_DICE).mean())}
        if threshold is not None:
            flagged, failed = q < threshold, d < FAILURE_DICE
            row.update({"threshold": threshold, "flagged_share": float(flagged.mean()),
                        "failures_caught": float((flagged & failed).sum() / failed.sum()) if failed.any() else float("nan"),
                        "flagged_that_failed": float((flagged & failed).sum() / flagged.sum()) if flagged.any() else float("nan")})
        out.append(row)
    return out


def choose_joint_threshold(rows: list[dict], slices: list[dict], kind: str, false_spine_mm3: float) -> dict:
    """The one threshold for validation slices and shift-validation volumes together (validation data only): a
    slice is bad when it failed (Dice < FAILURE_DICE, `rows`: metrics.csv) or, in a volume (`slices`:
    volume_slices.csv, the labels a user gets, after the volume rule), is lateral and holds more than
    `false_spine_mm3` of false spine; the threshold maximises Youden's J over every slice of both pooled. Reports
    the recall of false-spine slices, of failed slices, and the specificity, each on its own set."""
    column = f"qc_{kind}"
    items = [(i[1], i[2] < FAILURE_DICE) for v in image_scores(rows, kind).values() for i in v]
    volume = [(float(r[column]), str(r["lateral"]) in ("True", "true") and float(r["false_spine_mm3"]) > false_spine_mm3)
              for r in slices if r.get(column, "") not in ("", None) and float(r[column]) == float(r[column])]
    q, bad = np.array([x for x, _ in items + volume]), np.array([b for _, b in items + volume])
    if not bad.any() or bad.all():
        raise DataError(f"the validation slices and volumes hold {'no' if not bad.any() else 'only'} bad slices; a "
                        "threshold cannot be chosen from them.")
    best = max(np.unique(q), key=lambda t: (q[bad] <= t).mean() - (q[~bad] <= t).mean())
    threshold = float(np.nextafter(best, np.inf))
    qs, fs = np.array([x for x, _ in items]), np.array([b for _, b in items])
    qv, pv = np.array([x for x, _ in volume]), np.array([b for _, b in volume])
    share = lambda a: float(a.mean()) if a.size else float("nan")  # noqa: E731
    return {"score": kind, "threshold": threshold, "failure_dice": FAILURE_DICE,
            "false_spine_mm3": false_spine_mm3, "n_images": int(len(qs)), "n_failures": int(fs.sum()),
            "n_volume_slices": int(len(qv)), "n_false_spine_slices": int(pv.sum()),
            "sensitivity": share(q[bad] < threshold), "specificity": share(q[~bad] >= threshold),
            "failures_caught": share(qs[fs] < threshold), "false_spine_recall": share(qv[pv] < threshold),
            "flagged_share_slices": share(qs < threshold), "flagged_share_volume_slices": share(qv < threshold)}


def choose_threshold(rows: list[dict], kind: str) -> dict:
    """The quality-score threshold that best separates failed slices (Dice < FAILURE_DICE) from the others on
    the rows given (validation data only): the one maximising Youden's J = sensitivity + specificity - 1 over
    every image of every model and family pooled."""
    items = [i for v in image_scores(rows, kind).values() for i in v]
    q, failed = np.array([i[1] for i in items]), np.array([i[2] < FAILURE_DICE for i in items])
    if not failed.any() or failed.all():
        raise DataError(f"the validation rows hold {'no' if not failed.any() else 'only'} failed slices "
                        f"(Dice < {FAILURE_DICE}); a threshold cannot be chosen from them.")
    best = max(np.unique(q), key=lambda t: (q[failed] <= t).mean() - (q[~failed] <= t).mean())
    threshold = float(np.nextafter(best, np.inf))  # flag scores <= best, i.e. < threshold
    return {"score": kind, "threshold": threshold, "failure_dice": FAILURE_DICE, "n_images": int(len(q)),
            "n_failures": int(failed.sum()), "sensitivity": float((q[failed] < threshold).mean()),
            "specificity": float((q[~failed] >= threshold).mean())}
