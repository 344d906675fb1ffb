"""Volume rules: what a stack of sagittal slices knows that one slice does not, applied to predicted class maps
(no ground truth), the same way for every model. Distances in mm, never in voxels.

A stack is (S, H, W): slice index s across the body (spacing s_mm), rows head -> feet, columns anterior ->
posterior. Its midline m(r) is, per row, the median slice index of the predicted canal (of vertebra and disc when
the stack holds no canal), fitted over the rows by one weighted polynomial of degree <= 2 (a column that drifts or
bends once across slices from row to row is followed) and held constant beyond the first / last fitted row.
The rule's parts, each off when its node is null / false, applied in this order:

  present    a per-slice decision that the spine is absent: walking outward from the midline slice on each side,
             the first slice at least min_mm from it whose quality score (``models/quality.py``) lies below
             `threshold` and every slice beyond it are emptied (an empty slice, score NaN, does not stop the walk).
  extent_mm  a lateral extent per part from the midline, {canal, disc, body, posterior} in mm: a voxel of that part
             farther than it (|s - m(r)| x s_mm) becomes background. Vertebra in front of the canal's anterior edge
             (per row, on the midline slice; interpolated over rows) is body, behind it posterior elements.
  connected  only the largest 3D connected component of vertebra, disc and canal together is kept
             (`connectivity` 6, 18 or 26 neighbours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from spine_synthseg.errors import ConfigError
from spine_synthseg.structures import CANAL, DISC, VERTEBRA

PARTS = ("canal", "disc", "body", "posterior")
STAGES = ("present", "extent", "connected")
KEYS = {"name", "extent_mm", "connected", "connectivity", "present"}


@dataclass(frozen=True)
class VolumeRule:
    """One volume rule (module docstring). present: {threshold in (0, 1], min_mm >= 0} or None; extent_mm:
    {part: mm > 0} for some of PARTS, or None."""

    name: str
    extent_mm: Mapping[str, float] | None = None
    connected: bool = False
    connectivity: int = 26
    present: Mapping[str, float] | None = field(default=None)

    @property
    def active(self) -> bool:
        return bool(self.extent_mm or self.connected or self.present)

    @property
    def needs_quality(self) -> bool:
        return bool(self.present)

    @classmethod
    def from_config(cls, node: Mapping, where: str = "volume_rule") -> VolumeRule:
        """A rule from a config node (``conf/volume_rule/*.yaml``); a wrong key or value is a ConfigError naming it."""
        node = dict(node or {})
        unknown = sorted(set(node) - KEYS)
        if unknown:
            raise ConfigError(f"{where} has unknown keys {unknown}; use {sorted(KEYS)}.")
        extent = node.get("extent_mm")
        if extent:
            extent = {str(k): float(v) for k, v in dict(extent).items()}
            bad = {k: v for k, v in extent.items() if k not in PARTS or not v > 0}
            if bad:
                raise ConfigError(f"{where}.extent_mm={bad}: give positive mm for parts of {PARTS}.")
        present = node.get("present")
        if present:
            present = {str(k): float(v) for k, v in dict(present).items()}
            if set(present) != {"threshold", "min_mm"} or not 0 < present["threshold"] <= 1 or present["min_mm"] < 0:
                raise ConfigError(f"{where}.present={present}: give {{threshold: (0, 1], min_mm: >= 0}}.")
        connectivity = int(node.get("connectivity", 26))
        if connectivity not in (6, 18, 26):
            raise ConfigError(f"{where}.connectivity={connectivity}; use 6, 18 or 26.")
        return cls(str(node.get("name", "unnamed")), extent or None, bool(node.get("connected", False)), connectivity,
                   present or None)


def midline(labels: np.ndarray) -> np.ndarray | None:
    """(H,) the midline slice index per row (module docstring); None for a stack without vertebra, disc or canal."""
    canal = labels == CANAL
    mask = canal if canal.any() else np.isin(labels, (VERTEBRA, DISC))
    if not mask.any():
        return None
    counts = mask.sum(axis=2)  # (S, H): voxels per slice and row
    rows = np.flatnonzero(counts.sum(0))
    cumulative = counts[:, rows].cumsum(0)
    centre = np.argmax(cumulative >= cumulative[-1] / 2, axis=0).astype(float)  # weighted median slice per row
    weight = np.sqrt(counts[:, rows].sum(0))
    degree = min(2, len(rows) - 1)
    coef = np.polyfit(rows, centre, deg=degree, w=weight) if degree > 0 else np.array([centre[0]])
    r = np.clip(np.arange(labels.shape[1]), rows[0], rows[-1])
    return np.clip(np.polyval(coef, r), 0, labels.shape[0] - 1)


def canal_front(labels: np.ndarray, mid: np.ndarray) -> np.ndarray | None:
    """(H,) the canal's anterior edge column per row on the midline slice, interpolated over the rows without canal
    there; None where no canal is predicted on it."""
    s = np.round(mid).astype(int)
    on_mid = labels[s, np.arange(labels.shape[1])] == CANAL  # (H, W)
    rows = np.flatnonzero(on_mid.any(1))
    if rows.size == 0:
        return None
    front = np.argmax(on_mid[rows], axis=1).astype(float)
    return np.interp(np.arange(labels.shape[1]), rows, front)


def _present_cut(labels: np.ndarray, scores: np.ndarray, mid: np.ndarray, s_mm: float, rule: Mapping) -> np.ndarray:
    """(S,) bool: the slices the present decision empties."""
    centre = int(round(float(np.median(mid))))
    n = labels.shape[0]
    cut = np.zeros(n, bool)
    for step in (1, -1):  # outward on each side of the midline slice
        for s in range(centre, n if step == 1 else -1, step):
            if abs(s - centre) * s_mm >= rule["min_mm"] and scores[s] < rule["threshold"]:  # NaN < t is False
                beyond = slice(s, None) if step == 1 else slice(0, s + 1)
                cut[beyond] = True
                break
    return cut


def _extent_cut(labels: np.ndarray, mid: np.ndarray, s_mm: float, extent: Mapping[str, float]) -> np.ndarray:
    """(S, H, W) bool: the voxels farther than their part's extent from the midline."""
    distance = np.abs(np.arange(labels.shape[0])[:, None] - mid[None, :]) * s_mm  # (S, H)
    front = canal_front(labels, mid)
    cols = np.arange(labels.shape[2])[None, None, :]
    behind = cols > front[None, :, None] if front is not None else np.zeros((1, 1, 1), bool)
    parts = {"canal": labels == CANAL, "disc": labels == DISC,
             "body": (labels == VERTEBRA) & ~behind, "posterior": (labels == VERTEBRA) & behind}
    cut = np.zeros(labels.shape, bool)
    for part, mm in extent.items():
        cut |= parts[part] & (distance > mm)[:, :, None]
    return cut


def _connected_cut(labels: np.ndarray, connectivity: int) -> np.ndarray:
    """(S, H, W) bool: foreground outside the largest 3D connected component."""
    structure = ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[connectivity])
    components, n = ndimage.label(labels > 0, structure=structure)
    if n <= 1:
        return np.zeros(labels.shape, bool)
    largest = np.argmax(np.bincount(components.ravel())[1:]) + 1
    return (components > 0) & (components != largest)


def apply_rule(labels: np.ndarray, spacing_mm: tuple[float, float, float], rule: VolumeRule,
               scores: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(cleaned (S, H, W) labels, {stage: (S,) mm^3 it removed per slice}) for predicted labels (S, H, W) with
    spacing (slice, row, col) mm; scores: (S,) quality scores, needed by a rule with `present`."""
    s_mm = float(spacing_mm[0])
    voxel_mm3 = float(np.prod(spacing_mm))
    out = np.array(labels, copy=True)
    removed = {stage: np.zeros(labels.shape[0]) for stage in STAGES}
    mid = midline(out) if rule.active else None
    if mid is None:
        return out, removed
    if rule.present:
        if scores is None or len(scores) != len(out):
            raise ConfigError(f"volume rule {rule.name} decides per slice from quality scores; give one per slice "
                              f"(predict --quality modes or flip).")
        cut = _present_cut(out, np.asarray(scores, float), mid, s_mm, rule.present)
        removed["present"] = np.where(cut, (out > 0).sum(axis=(1, 2)) * voxel_mm3, 0.0)
        out[cut] = 0
    if rule.extent_mm:
        cut = _extent_cut(out, mid, s_mm, rule.extent_mm)
        removed["extent"] = (cut & (out > 0)).sum(axis=(1, 2)) * voxel_mm3
        out[cut] = 0
    if rule.connected:
        cut = _connected_cut(out, rule.connectivity)
        removed["connected"] = cut.sum(axis=(1, 2)) * voxel_mm3
        out[cut] = 0
    return out, removed


def removed_by(removed: Mapping[str, np.ndarray], s: int) -> tuple[float, str]:
    """(mm^3 removed on slice s, the stages that removed it joined by '+', '' for none)."""
    stages = [k for k in STAGES if removed[k][s] > 0]
    return float(sum(removed[k][s] for k in STAGES)), "+".join(stages)


def rule_names() -> list[str]:
    """The rules of conf/volume_rule/ (predict --volume-rule, the rule screen's candidates)."""
    from spine_synthseg.config import CONFIG_DIR

    return sorted(p.stem for p in (CONFIG_DIR / "volume_rule").glob("*.yaml"))


def load_rule(name: str) -> VolumeRule:
    """The rule conf/volume_rule/<name>.yaml, its defaults applied; an unknown name is a ConfigError naming the options."""
    from spine_synthseg.config import compose_config, to_dict

    if name not in rule_names():
        raise ConfigError(f"volume rule {name!r} is unknown; use one of {rule_names()} (conf/volume_rule/).")
    return VolumeRule.from_config(to_dict(compose_config([f"volume_rule={name}"]).volume_rule),
                                  f"conf/volume_rule/{name}.yaml")
