"""Patient-level splits: deterministic, complete, sized by the fractions, and honoured by the DataModules."""

import pytest
from hydra.utils import instantiate

from spine_synthseg.data.splits import split_patients
from spine_synthseg.errors import DataError
from tests.helpers import compose_cfg

PATIENTS = [str(i) for i in range(1, 42) for _ in range(3)]  # 41 patients, 3 slices each
FRACTIONS = {"train": 0.6, "val": 0.15, "test": 0.25}


def test_split_is_a_partition_sized_by_the_fractions():
    splits = split_patients(PATIENTS, FRACTIONS, seed=42)
    assert [len(splits[k]) for k in FRACTIONS] == [25, 6, 10]  # round(0.6 * 41), round(0.15 * 41), the rest
    assigned = [p for names in splits.values() for p in names]
    assert sorted(assigned, key=int) == sorted(set(PATIENTS), key=int)  # each patient exactly once


def test_split_depends_only_on_its_seed():
    assert split_patients(PATIENTS, FRACTIONS, 42) == split_patients(list(reversed(PATIENTS)), FRACTIONS, 42)
    assert split_patients(PATIENTS, FRACTIONS, 42) != split_patients(PATIENTS, FRACTIONS, 43)


@pytest.mark.parametrize("fractions", [{"train": 0.6, "test": 0.3}, {"train": 1.2, "test": -0.2}])
def test_bad_fractions(fractions):
    with pytest.raises(DataError, match="split.fractions"):
        split_patients(PATIENTS, fractions, 0)


@pytest.mark.parametrize("experiment", ["model_a", "model_b"])
def test_datamodule_slices_follow_the_split(tmp_path, data_root, experiment):
    dm = instantiate(compose_cfg(tmp_path, [f"experiment={experiment}"]).data, _convert_="all")
    dm.setup("fit")
    assert set(dm.train_slices.patient_ids) == set(dm.splits["train"])
    assert set(dm.val_slices.patient_ids) == set(dm.splits["val"])
    assert (tmp_path / "splits.json").is_file()
