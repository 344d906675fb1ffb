"""Label-map utilities shared by the readers, preprocessing and the generator (numpy, one 2D slice).

Instances: per-level ids where a mask has levels, 4-connected components where it does not.
Background partitions: bands of distance (mm) to the labelled anatomy. Per-class 1D k-means clusters of the
real intensity, and k-means tissue classes of the real background on intensity and local texture (used only by the
disclosed variants: ``real_clusters`` of the background and sub-region stages, ``tissue`` of the background).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from spine_synthseg.structures import NUM_CLASSES

DISTANCE_BANDS_MM = (6.0, 15.0, 30.0, 50.0)  # edges of the background distance bands: 5 bands


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
    values = np.asarray(values)
    if values.size and values.dtype.kind in "iu" and values.min() >= 0 and values.max() < 1 << 16:
        present = np.flatnonzero(np.bincount(values.ravel()))  # a lookup table: no sort of every pixel
        lut = np.zeros(int(present[-1]) + 1, dtype=np.int32)
        lut[present] = np.arange(len(present), dtype=np.int32) + (0 if present[0] == 0 else 1)
        return lut[values]
    uniques, inverse = np.unique(values, return_inverse=True)
    ids = np.arange(len(uniques), dtype=np.int32) + (0 if uniques[0] == 0 else 1)
    return ids[inverse].reshape(values.shape).astype(np.int32)


def background_distance_bands(structures: np.ndarray, spacing_mm: float,
                              edges_mm: tuple[float, ...] = DISTANCE_BANDS_MM) -> np.ndarray:
    """Band index (0..len(edges)) of each background pixel's distance (mm) to the labelled anatomy; 0 elsewhere."""
    distance = ndimage.distance_transform_edt(structures == 0) * spacing_mm
    return np.where(structures == 0, np.searchsorted(np.asarray(edges_mm), distance), 0).astype(np.uint8)


def intensity_clusters(image: np.ndarray, structures: np.ndarray, k: int, iterations: int = 10) -> np.ndarray:
    """1D k-means of the real intensities inside each class (background, vertebra, disc, canal) separately;
    clusters 0..k-1 numbered by increasing mean within their class (FetalSynthSeg's sub-labels, arXiv 2403.15103).
    Used only by the disclosed ``real_clusters`` variants: the generator reads the cluster index, never an intensity."""
    out = np.zeros(structures.shape, dtype=np.uint8)
    for cls in np.unique(structures):
        inside = structures == cls
        values = image[inside].astype(np.float64)
        centres = np.quantile(values, (np.arange(k) + 0.5) / k)
        for _ in range(iterations):  # Lloyd's iterations; in 1D the nearest centre is found between sorted midpoints
            centres.sort()
            assign = np.searchsorted((centres[1:] + centres[:-1]) / 2, values)
            counts = np.bincount(assign, minlength=k)
            sums = np.bincount(assign, weights=values, minlength=k)
            centres = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
        centres.sort()
        out[inside] = np.searchsorted((centres[1:] + centres[:-1]) / 2, values)
    return out


def tissue_classes(image: np.ndarray, structures: np.ndarray, k: int = 12, texture_px: int = 5,
                   iterations: int = 10) -> np.ndarray:
    """k-means (k classes, 1-16) of the real background pixels on two standardised features, intensity and local
    texture (the std in a texture_px x texture_px window), classes 0..k-1 numbered by increasing mean intensity;
    0 inside the labelled structures. An unsupervised segmentation of the tissue around the spine (fat, muscle,
    bowel, organs) for the disclosed ``tissue`` background: the generator reads the class index, never an intensity."""
    x = image.astype(np.float32)
    mean = ndimage.uniform_filter(x, texture_px)
    texture = np.sqrt(np.clip(ndimage.uniform_filter(x * x, texture_px) - mean * mean, 0, None))
    inside = structures == 0
    f = [x[inside], texture[inside]]
    f = [(v - v.mean()) / max(float(v.std()), 1e-6) for v in f]
    q = np.quantile(f[0], (np.arange(k) + 0.5) / k)  # initial centres: intensity quantiles, mean texture
    centres = np.stack([q, np.zeros(k)], 1).astype(np.float32)

    def nearest(c: np.ndarray) -> np.ndarray:
        return ((f[0][:, None] - c[None, :, 0]) ** 2 + (f[1][:, None] - c[None, :, 1]) ** 2).argmin(1)

    for _ in range(iterations):  # Lloyd's iterations
        assign = nearest(centres)
        counts = np.bincount(assign, minlength=k)
        sums = np.stack([np.bincount(assign, weights=v, minlength=k) for v in f], 1)
        centres = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres).astype(np.float32)
    assign = nearest(centres)
    rank = np.argsort(np.argsort(centres[:, 0], kind="stable"), kind="stable")  # by increasing intensity
    out = np.zeros(structures.shape, dtype=np.uint8)
    out[inside] = rank[assign]
    return out
