"""Markdown tables of collected results (headline.csv, paired_differences.csv, all_tests.csv rows), every name read
from the catalogue (``conf/catalog/default.yaml``) and every choice of rows (families, models, pairs, targets)
from a protocol entry's config (``conf/protocol/*.yaml``): nothing here names a test set or a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from omegaconf import OmegaConf

from spine_synthseg.config import CONFIG_DIR
from spine_synthseg.data import families as fam
from spine_synthseg.errors import ConfigError
from spine_synthseg.evaluation.collect import VOLUME_EXTRA

PROTOCOL_DIR = CONFIG_DIR / "protocol"


def protocol(name: str) -> dict:
    """The table config of a protocol entry (``conf/protocol/NAME.yaml``): results folder, families, models, pairs,
    targets, optional labels (a family's display name for that entry, where its family was defined otherwise)."""
    path = PROTOCOL_DIR / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in PROTOCOL_DIR.glob("*.yaml"))
        raise ConfigError(f"{path} does not exist; protocol entries with table configs: {known}.")
    return OmegaConf.to_container(OmegaConf.load(path), resolve=True)


def ci(r: Mapping, key: str = "mean", digits: int = 3, signed: bool = False) -> str:
    """'m [lo, hi]' of a summary or paired row (key: mean or diff_mean); signed: with +/- signs."""
    s = "+" if signed else ""
    return f"{float(r[key]):{s}.{digits}f} [{float(r['ci_low']):{s}.{digits}f}, {float(r['ci_high']):{s}.{digits}f}]"


def row_name(r: Mapping) -> str:
    """A headline row's name: its family, or 'family:metric' for a volume family's false-spine rows (VOLUME_EXTRA),
    as a protocol entry lists them."""
    return f"{r['test']}:{r['metric']}" if r.get("metric") in VOLUME_EXTRA else r["test"]


def family_label(catalog: Mapping, name: str, rows: Sequence[Mapping] = (), labels: Mapping | None = None) -> str:
    """A family's label in a table: its display name (or the entry's `labels` override) with the subject count of
    its result rows (``n_patients``) and "descriptive" below the catalogue's ``descriptive_below``; 'family:metric'
    names the metric too."""
    name, _, metric = name.partition(":")
    if metric:
        return f"{family_label(catalog, name, rows, labels)}: {metric}"
    family = fam.families(catalog)[name]
    if labels and name in labels:
        family = replace(family, display=labels[name])
    counts = {r["n_patients"] for r in rows if r.get("n_patients") not in (None, "")}
    if len(counts) > 1:  # models scored on different subjects: say so rather than pick one
        return f"{family.display} ({'/'.join(sorted(counts, key=float))} {family.unit})"
    return fam.label(family, next(iter(counts), None), int(catalog.get("descriptive_below", 0)))


def model_name(catalog: Mapping, model: str) -> str:
    return fam.models(catalog).get(model, {}).get("display", model)


def headline_table(rows: Sequence[Mapping], catalog: Mapping, entry: Mapping, seeds_column: bool = True) -> str:
    """Family x model, mean [CI], from headline.csv rows (test = family name); only the entry's families and
    models that have rows."""
    index = {(row_name(r), r["model"]): r for r in rows}
    models = [m for m in entry["models"] if any(r["model"] == m for r in rows)]
    seeds = " seeds |" if seeds_column else ""
    lines = ["| real test set | metric | " + " | ".join(model_name(catalog, m) for m in models) + " |" + seeds,
             "|---|---|" + "---|" * len(models) + ("---|" if seeds_column else "")]
    for name in entry["families"]:
        cells = [index.get((name, m)) for m in models]
        present = [c for c in cells if c]
        if not present:
            continue
        label = family_label(catalog, name, present, entry.get("labels"))
        digits = METRIC_DIGITS.get(present[0]["metric"], 3)
        lines.append(f"| {label} | {present[0]['metric']} | " + " | ".join(ci(c, digits=digits) if c else "n/a" for c in cells)
                     + " |" + (f" {present[0]['n_seeds']} |" if seeds_column else ""))
    return "\n".join(lines)


def pair_index(rows: Sequence[Mapping], key: Sequence[str] = ("test",)) -> dict[tuple, dict]:
    """{(*key values, a, b): row} of paired rows, both orders (b - a flips the sign and the interval)."""
    out = {}
    for r in rows:
        k = tuple(row_name(r) if f == "test" and "metric" not in key else r[f] for f in key)
        d, lo, hi = float(r["diff_mean"]), float(r["ci_low"]), float(r["ci_high"])
        out[k + (r["model_a"], r["model_b"])] = {**r, "diff_mean": d, "ci_low": lo, "ci_high": hi}
        out[k + (r["model_b"], r["model_a"])] = {**r, "diff_mean": 0.0 - d, "ci_low": 0.0 - hi, "ci_high": 0.0 - lo}
    return out


def pair_name(pair: Sequence[str]) -> str:
    """'A - B+aug' for (model_a, model_b_aug): the letter after 'model_', '+aug' for '_aug'."""
    short = [m.removeprefix("model_").replace("_aug", "+aug").upper().replace("+AUG", "+aug") for m in pair]
    return f"{short[0]} - {short[1]}"


def differences_table(rows: Sequence[Mapping], catalog: Mapping, entry: Mapping) -> str:
    """Family x the entry's pairs, paired difference [CI], from paired_differences.csv rows."""
    pairs = pair_index(rows)
    lines = ["| real test set | " + " | ".join(pair_name(p) for p in entry["pairs"]) + " |",
             "|---|" + "---|" * len(entry["pairs"])]
    for name in entry["families"]:
        cells = [pairs.get((name, *p)) for p in entry["pairs"]]
        present = [c for c in cells if c]
        if present:
            digits = METRIC_DIGITS.get(present[0]["metric"], 3)
            lines.append(f"| {family_label(catalog, name, present, entry.get('labels'))} | "
                         + " | ".join(ci(c, "diff_mean", digits, signed=True) if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def targets_table(headline: Sequence[Mapping], paired: Sequence[Mapping], all_tests: Sequence[Mapping],
                  catalog: Mapping, entry: Mapping) -> str:
    """The entry's targets, each measured from the results: a model's mean (`model`), a paired difference (`pair`)
    or a loss between two variants (`loss_from`, `loss_to`); met: every bound given (at_least, at_most, ci_above)
    holds. `family: all` repeats a target over the entry's families."""
    head = {(row_name(r), r["model"]): r for r in headline}
    pairs = pair_index(paired)
    known = fam.families(catalog)
    lines = ["| target | measured [95% CI] | met |", "|---|---|---|"]
    for t in entry.get("targets") or []:
        names = [n for n in entry["families"] if ":" not in n] if t["family"] == "all" else [t["family"]]
        for name in names:
            row, text = _measure(t, name, known, head, pairs, all_tests)
            if row is None:
                continue
            label = t["label"] + (f": {family_label(catalog, name, [row], entry.get('labels'))}"
                                  if t["family"] == "all" else "")
            est, lo = (float(row[k]) for k in ("value", "ci_low"))
            met = ((t.get("at_least") is None or est >= t["at_least"]) and (t.get("at_most") is None or est <= t["at_most"])
                   and (t.get("ci_above") is None or lo > t["ci_above"]))
            lines.append(f"| {label} | {text} | {'yes' if met else 'no'} |")
    return "\n".join(lines)


def _measure(t: Mapping, name: str, known: Mapping, head: Mapping, pairs: Mapping, all_tests: Sequence[Mapping]):
    """(row with value and ci_low, the measured cell) of one target on one family; (None, "") where not scored."""
    family = known[name.partition(":")[0]]
    unit = t.get("unit", "")
    if "pair" in t:
        r = pairs.get((name, *t["pair"]))
        return (None, "") if r is None else ({**r, "value": r["diff_mean"]}, ci(r, "diff_mean", signed=True))
    if "loss_from" in t:
        cell = {r["variant"]: r for r in all_tests if r["model"] == t["model"] and r["test"] == family.test
                and r["structure"] == family.structure and r["metric"] == family.metric}
        a, b = cell.get(t["loss_from"]), cell.get(t["loss_to"])
        if a is None or b is None:
            return None, ""
        loss = float(a["mean"]) - float(b["mean"])
        return ({"value": loss, "ci_low": float("nan")},
                f"{float(a['mean']):.3f} -> {float(b['mean']):.3f} (loss {loss:.3f}, {b['n_seeds']} seed(s))")
    if "metric" in t:  # another metric of the family than its headline one (e.g. HD95), from all_tests.csv
        r = next((r for r in all_tests if r["model"] == t["model"] and r["test"] == family.test
                  and r["variant"] == family.variant and r["structure"] == t["structure"] and r["metric"] == t["metric"]), None)
        if r is None:
            return None, ""
        stat = t.get("statistic", "mean")  # mean, or median (collect.MEDIAN_METRICS carry it)
        keys = ("mean", "ci_low", "ci_high") if stat == "mean" else (stat, f"{stat}_ci_low", f"{stat}_ci_high")
        cell = dict(zip(("mean", "ci_low", "ci_high"), (r[k] for k in keys)))
        text = ("" if stat == "mean" else f"{stat} ") + ci(cell, digits=METRIC_DIGITS.get(t["metric"], 1)) + unit
        return {**r, "value": cell["mean"], "ci_low": cell["ci_low"]}, text
    if "model" not in t:
        raise ConfigError(f"target {t.get('label')!r} needs a model, a pair or loss_from / loss_to.")
    r = head.get((name, t["model"]))
    return (None, "") if r is None else ({**r, "value": r["mean"]}, ci(r) + unit)


METRIC_DIGITS = {"false_spine_ml": 1, "fp_far_ml": 1, "false_spine_slices": 2}  # mL to 0.1, shares to 0.01


def metric_table(rows: Sequence[Mapping], catalog: Mapping, entry: Mapping, run: str, family_key: str = "families"
                 ) -> str:
    """Family x metric rows, model columns, mean [CI], for one run (an inference mode) of a collected evaluation
    (``scripts/collect.py evaluation``: columns run, model, test, variant, structure, metric, ...)."""
    known = fam.families(catalog)
    index = {(r["run"], r["model"], r["test"], r["variant"], r["metric"]): r for r in rows}
    models = [m for m in entry["models"] if any(r["model"] == m for r in rows)]
    lines = ["| whole volumes | metric | " + " | ".join(model_name(catalog, m) for m in models) + " |",
             "|---|---|" + "---|" * len(models)]
    for name in entry[family_key]:
        f = known[name]
        for metric in entry["metrics"]:
            cells = [index.get((run, m, f.test, f.variant, metric)) for m in models]
            present = [c for c in cells if c]
            if present:
                digits = METRIC_DIGITS.get(metric, 3)
                lines.append(f"| {family_label(catalog, name, present)} | {metric} | "
                             + " | ".join(ci(c, digits=digits) if c else "n/a" for c in cells) + " |")
    return "\n".join(lines)


def metric_differences(rows: Sequence[Mapping], catalog: Mapping, entry: Mapping, family_key: str = "families") -> str:
    """Family x metric x run (inference mode) rows, the entry's pairs as columns, paired difference [CI]."""
    known = fam.families(catalog)
    pairs = pair_index(rows, ("run", "test", "variant", "metric"))
    runs = list(dict.fromkeys(r["run"] for r in rows))
    lines = ["| whole volumes | metric | inference | " + " | ".join(pair_name(p) for p in entry["pairs"]) + " |",
             "|---|---|---|" + "---|" * len(entry["pairs"])]
    for name in entry[family_key]:
        f = known[name]
        for metric in entry["metrics"]:
            for run in runs:
                cells = [pairs.get((run, f.test, f.variant, metric, *p)) for p in entry["pairs"]]
                present = [c for c in cells if c]
                if present:
                    digits = METRIC_DIGITS.get(metric, 3)
                    lines.append(f"| {family_label(catalog, name, present)} | {metric} | {run.replace('_', ' ')} | "
                                 + " | ".join(ci(c, "diff_mean", digits, signed=True) if c else "n/a" for c in cells)
                                 + " |")
    return "\n".join(lines)
