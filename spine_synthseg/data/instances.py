"""Instance labels: levels where the mask has them, connected components where it does not."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spine_synthseg.structures import NUM_CLASSES


def connected_component_instances(structures: np.ndarray) -> np.ndarray:
    """Instance ids (1..K, 0 = background) from the 4-connected components of each structure."""
    instances = np.zeros(structures.shape, dtype=np.int32)
    next_id = 1
    for cls in range(1, NUM_CLASSES):
        components, count = ndimage.label(structures == cls)
        if count:
            mask = components > 0
            instances[mask] = components[mask] + next_id - 1
            next_id += count
    return instances


def relabel_values(values: np.ndarray) -> np.ndarray:
    """Map arbitrary per-level label values to consecutive instance ids 1..K (0 stays background)."""
    uniques, inverse = np.unique(values, return_inverse=True)
    ids = np.arange(len(uniques), dtype=np.int32) + (0 if uniques[0] == 0 else 1)
    return ids[inverse].reshape(values.shape).astype(np.int32)
