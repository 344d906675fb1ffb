"""Golden batch: the generator's output for a fixed seed, pinned (tests/golden/, written before the stage refactor).

Drawn label maps (no data needed), the composed Hydra configs of Model A's default generator, the strength preset
and a T1-like / no-artifact / real-clusters variant. Any change to the sampling order, a range or an operator
shows here; regenerate the file only for an intended change of the generator, and say so in the commit.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from spine_synthseg.labels import background_distance_bands, connected_component_instances
from tests.helpers import compose_cfg

GOLDEN = Path(__file__).parent / "golden" / "generator_seed1234.pt"
# min-max output (the generator's own default) so the golden batch predates, and is independent of, the
# project's normalisation-parity default (synth.output_percentiles, tested in test_generator.py)
PINNED = ["synth.output_percentiles=null"]
CONFIGS = {"default": PINNED, "strength_0.5": ["randomisation=strength", "strength=0.5", *PINNED],
           "real_clusters": ["background=real_clusters", "contrast=t1_like", "artifact=none", *PINNED]}


def drawn_label_maps(b: int = 3, size=(160, 128)) -> dict[str, torch.Tensor]:
    """Five vertebra / disc levels and a canal per map, shifted per map; clusters a fixed diagonal pattern."""
    out = {k: [] for k in ("structures", "instances", "bg_distance", "clusters")}
    for i in range(b):
        s = np.zeros(size, np.uint8)
        for level in range(5):
            r = 10 + 4 * i + level * 28
            s[r:r + 20, 30 + i:70 + i] = 1
            s[r + 20:r + 27, 32 + i:68 + i] = 2
        s[5:155, 75 + i:85 + i] = 3
        clusters = np.add.outer(np.arange(size[0]), np.arange(size[1])) // 40 % 4
        out["structures"].append(torch.from_numpy(s).long())
        out["instances"].append(torch.from_numpy(connected_component_instances(s)).long())
        out["bg_distance"].append(torch.from_numpy(background_distance_bands(s, 1.5)).long())
        out["clusters"].append(torch.from_numpy(np.where(s == 0, clusters, 0)).long())
    return {k: torch.stack(v) for k, v in out.items()}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_generator_matches_golden_batch(tmp_path, name):
    golden = torch.load(GOLDEN)[name]
    generator = instantiate(compose_cfg(tmp_path, ["experiment=model_a", *CONFIGS[name]]).synth)  # the generator's own defaults
    out = generator.generate_batch(drawn_label_maps(), torch.Generator().manual_seed(1234))
    image = out.image.double()
    torch.testing.assert_close(out.image[:, 0, 56:104, 40:88], golden["image_crop"], atol=1e-5, rtol=0)
    torch.testing.assert_close(image.sum((1, 2, 3)), golden["image_sum"], atol=1e-2, rtol=0)
    torch.testing.assert_close((image ** 2).sum((1, 2, 3)), golden["image_sq_sum"], atol=1e-2, rtol=0)
    counts = torch.stack([(out.structures == c).sum((1, 2)) for c in range(4)], 1)
    assert torch.equal(counts, golden["structure_counts"])
