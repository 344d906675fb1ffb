"""The main job's speed paths compute what the plain paths computed: the class-map argmax, the percentiles, the
U-Net's pooling and activations, the training crops, threaded reading and preprocessing, the split from file
names, bfloat16 inference where asked, and inference in concurrent streams."""

import copy
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spine_synthseg.config import PROJECT_ROOT
from spine_synthseg.data.catalog import source_split
from spine_synthseg.data.parallel import thread_map
from spine_synthseg.data.preprocess import PreprocessConfig, preprocess_records
from spine_synthseg.data.sources import SourceConfig, patient_ids, read_records
from spine_synthseg.data.splits import split_patients
from spine_synthseg.errors import ConfigError, DataError
from spine_synthseg.models.inference import precision, resolve_precision, segment_slices
from spine_synthseg.models.streams import one_stream, stream_map, streams
from spine_synthseg.models.unet import InstanceNorm, MaxPool2x2, UNet, channels_last
from spine_synthseg.tensors import argmax, quantile
from spine_synthseg.training.crops import RandomCrop

SAMPLE = {"root": str(PROJECT_ROOT / "spine_synthseg" / "sample_data" / "spider_t2space_sample"),
          "format": "png_folder", "sequence": "t2_SPACE", "patient_id_pattern": "^([^_]+)_"}


def test_argmax_equals_torch_argmax_with_ties():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 3, (5, 4, 7, 6), generator=g).float()  # few values: many ties
    for dim in range(x.ndim):
        assert torch.equal(argmax(x, dim), x.argmax(dim))
    soft = torch.rand(4, 33, 17, generator=g).softmax(0)
    assert torch.equal(argmax(soft, 0), soft.argmax(0))
    assert torch.equal(argmax(torch.zeros(4, 3, 3), 0), torch.zeros(3, 3, dtype=torch.long))  # a tie: the first
    classes = torch.randint(0, 12, (4, 96, 80), generator=g)  # the generator's majority vote: tied window counts
    votes = F.avg_pool2d(F.one_hot(classes, 12).permute(0, 3, 1, 2).float(), 5, stride=1, padding=2,
                         count_include_pad=False)
    assert torch.equal(argmax(votes, 1), votes.argmax(1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_max_pool_2x2_equals_torch_max_pool_on_ties(dtype):
    g = torch.Generator().manual_seed(1)
    blocks = torch.randint(0, 3, (2, 3, 8, 6), generator=g).to(dtype)
    x = blocks.repeat_interleave(2, -2).repeat_interleave(2, -1)  # constant 2 x 2 blocks: every window tied
    x[..., ::4, ::4] += 1  # and some windows with one clear maximum
    weight = torch.rand(2, 3, 8, 6, generator=g).to(dtype)
    grads = []
    for pool in (MaxPool2x2(), nn.MaxPool2d(2)):
        leaf = x.clone().requires_grad_()
        out = pool(leaf)
        (out * weight).sum().backward()
        grads.append((out.detach(), leaf.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
    cl = MaxPool2x2()(channels_last(x))  # a channels-last input stays channels-last
    assert torch.equal(cl, grads[0][0]) and not cl.is_contiguous() and cl.is_contiguous(memory_format=torch.channels_last)


def _norm_and_gradients(x: torch.Tensor, norm: nn.Module, dy: torch.Tensor) -> list[torch.Tensor]:
    leaf = x.detach().clone().requires_grad_()
    norm.zero_grad()
    y = norm(leaf)
    y.backward(dy)
    return [y.detach().double(), leaf.grad.double(), norm.weight.grad.double(), norm.bias.grad.double()]


@pytest.mark.parametrize("shape", [(4, 16, 40, 32), (1, 3, 7, 5), (3, 8, 1, 9)])
def test_instance_norm_on_channels_last_equals_the_float64_instance_norm(shape):
    """InstanceNorm's per-image batch norms on a channels-last tensor, values and gradients, against torch's
    instance norm in float64; float32 to 1e-5, bfloat16 as close as torch's own bf16 instance norm (NCHW)."""
    g = torch.Generator().manual_seed(6)
    x = torch.randn(shape, generator=g) * 3 + 1
    dy = torch.randn(shape, generator=g)
    torch_norm = nn.InstanceNorm2d(shape[1], affine=True)
    with torch.no_grad():
        torch_norm.weight.uniform_(0.5, 1.5, generator=g)
        torch_norm.bias.uniform_(-1, 1, generator=g)
    norm = InstanceNorm(shape[1])
    norm.load_state_dict(torch_norm.state_dict())  # the same parameters: checkpoints load either way
    reference = _norm_and_gradients(x.double(), copy.deepcopy(torch_norm).double(), dy.double())
    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, None)):
        xd, dyd = channels_last(x.to(dtype)), channels_last(dy.to(dtype))
        fast = _norm_and_gradients(xd, norm, dyd)
        assert norm(xd).grad_fn.name() == "_PerImageNormBackward" and norm(xd).dtype == dtype
        ref = _norm_and_gradients(x.to(dtype), copy.deepcopy(torch_norm), dy.to(dtype))  # torch's, NCHW
        for a, b, r in zip(fast, ref, reference):
            scale = r.abs().max() + 1e-12
            assert (a - r).abs().max() <= (tol * scale if tol else 2 * (b - r).abs().max() + 1e-2 * scale)
    assert norm(x).grad_fn.name() != "_PerImageNormBackward"  # NCHW: torch's instance norm


@pytest.mark.parametrize("bf16", [False, True])
def test_channels_last_unet_gives_the_nchw_logits_and_gradients(bf16):
    """The U-Net channels-last on the CPU (every instance norm on its per-image path) against the same weights in
    NCHW: logits and parameter gradients the same up to rounding (float32 1e-4, bf16 a few of its ulps)."""
    torch.manual_seed(0)
    fast = UNet(depth=3, base_channels=8)
    nchw = copy.deepcopy(fast)
    nchw.cpu_channels_last = False
    paths = []
    for m in fast.modules():
        if isinstance(m, InstanceNorm):
            m.register_forward_hook(lambda mod, i, o: paths.append(o.grad_fn.name() if o.grad_fn else "no grad"))
    out = logits_and_gradients((fast, nchw), bf16)
    assert set(paths) == {"_PerImageNormBackward", "no grad"} and len(paths) == 2 * 10
    assert out[0][0].is_contiguous() and out[0][0].dtype == out[1][0].dtype
    tol = 5e-2 if bf16 else 1e-4
    torch.testing.assert_close(out[0][0].float(), out[1][0].float(), rtol=0, atol=tol * out[1][0].abs().max().item())
    for a, b in zip(out[0][2], out[1][2]):
        assert b.abs().max() > 0 and (a - b).abs().max() <= tol * b.abs().max()


def logits_and_gradients(nets, bf16: bool) -> list[tuple]:
    """(logits, logits under no_grad, parameter gradients of a cross-entropy) of each net on one fixed batch."""
    x = torch.rand(2, 1, 32, 24, generator=torch.Generator().manual_seed(4))
    y = torch.randint(0, 4, (2, 32, 24), generator=torch.Generator().manual_seed(5))
    out = []
    for net in nets:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = net(x)
            with torch.no_grad():
                inferred = net(x)
        F.cross_entropy(logits.float(), y).backward()
        out.append((logits.detach(), inferred, [p.grad for p in net.parameters()]))
    return out


@pytest.mark.parametrize("bf16", [False, True])
def test_unet_pooling_gives_the_plain_max_pool_logits_and_gradients(bf16):
    torch.manual_seed(0)
    fast = UNet(depth=3, base_channels=4)
    plain = copy.deepcopy(fast)
    plain.pool = nn.MaxPool2d(2)
    out = logits_and_gradients((fast, plain), bf16)
    assert torch.equal(out[0][0], out[1][0])
    assert all(torch.equal(a, b) for a, b in zip(out[0][2], out[1][2]))


@pytest.mark.parametrize("shape", [(8, 20480), (3, 1000), (5, 7), (1, 1), (2, 30000)])
def test_quantile_equals_torch_quantile(shape):
    """tensors.quantile (order statistics by topk) against torch.quantile, along the last dim and along dim 0:
    continuous values, heavy ties, constants; q at the ends, on either side of the median, unsorted, the median
    (deep order statistics: torch's own path); NaN and bfloat16 (torch's own path)."""
    g = torch.Generator().manual_seed(2)
    for x in (torch.randn(shape, generator=g), torch.randint(0, 5, shape, generator=g).float(), torch.ones(shape)):
        for q in ([0.005, 0.995], [0.0, 1.0], [0.99, 0.01], [0.0015], [0.5], [0.3, 0.7, 0.999]):
            q = torch.tensor(q)
            for dim in (-1, 0):
                assert torch.equal(quantile(x, q, dim), torch.quantile(x, q, dim=dim)), (shape, q, dim)
    x = torch.randn(shape, generator=g)
    with pytest.raises(RuntimeError):  # torch.quantile's dtype rules hold: no silently rounded q
        quantile(x.bfloat16(), torch.tensor([0.005, 0.995]))
    x.view(-1)[0] = float("nan")
    assert torch.equal(quantile(x, torch.tensor([0.01, 0.99]), -1).isnan(),
                       torch.quantile(x, torch.tensor([0.01, 0.99]), dim=-1).isnan())


def test_crop_views_equal_the_gathered_crops():
    """RandomCrop.apply (one view per image) against advanced indexing, for labels (returned as int64 by the
    crop) and images with a channel axis."""
    g = torch.Generator().manual_seed(3)
    crop = RandomCrop((12, 8))
    labels = torch.randint(0, 4, (5, 20, 16), generator=g, dtype=torch.uint8)
    images = torch.rand(5, 1, 20, 16, generator=g)
    corners = torch.stack([torch.randint(0, 9, (5,), generator=g), torch.randint(0, 9, (5,), generator=g)], 1)
    rows = corners[:, :1] + torch.arange(12)
    cols = corners[:, 1:] + torch.arange(8)
    b = torch.arange(5)[:, None, None]
    assert torch.equal(crop.apply(corners, labels), labels[b, rows[:, :, None], cols[:, None, :]])
    gathered = images.movedim(1, 3)[b, rows[:, :, None], cols[:, None, :]].movedim(3, 1)
    assert torch.equal(crop.apply(corners, images), gathered)
    batch = {"structures": labels, "image": images, "shape": torch.tensor([[20, 16]] * 5)}
    out = crop(batch, ("structures", "image"), torch.Generator().manual_seed(0))
    assert out["structures"].dtype == torch.int64 and out["image"].dtype == torch.float32


@pytest.mark.parametrize("bf16", [False, True])
def test_unet_activations_give_the_in_place_logits_and_gradients(bf16):
    """The ConvBlocks' LeakyReLU (out of place while a gradient is taken, in place without): the same logits and
    gradients as torch's in-place LeakyReLU, and the same logits under no_grad."""
    torch.manual_seed(0)
    fast = UNet(depth=3, base_channels=4)
    inplace = copy.deepcopy(fast)
    for block in [*inplace.down, *inplace.dec]:
        for i, m in enumerate(block):
            if isinstance(m, nn.LeakyReLU):
                block[i] = nn.LeakyReLU(0.01, inplace=True)
    assert type(fast.down[0][2]) is not nn.LeakyReLU and type(inplace.down[0][2]) is nn.LeakyReLU
    out = logits_and_gradients((fast, inplace), bf16)
    assert torch.equal(out[0][0], out[1][0]) and torch.equal(out[0][1], out[1][1])
    assert torch.equal(out[0][0], out[0][1])
    assert all(torch.equal(a, b) for a, b in zip(out[0][2], out[1][2]))


def test_thread_map_keeps_order_and_raises_the_first_error_in_order():
    assert thread_map(lambda i: i * i, range(50)) == [i * i for i in range(50)]

    def fail(i):
        if i in (7, 30):
            raise DataError(f"item {i}")
        return i

    with pytest.raises(DataError, match="item 7"):
        thread_map(fail, range(50))


def test_threaded_preprocessing_equals_one_thread():
    records, _ = read_records(SourceConfig.from_dict(SAMPLE))
    cfg = PreprocessConfig.from_dict({"spacing_mm": 1.5, "size": [160, 128], "percentiles": [0.5, 99.5],
                                      "n_clusters": 4, "n_tissue": 12})
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = preprocess_records(records, cfg)
        torch.set_num_threads(1)
        one = preprocess_records(records, cfg)
    finally:
        torch.set_num_threads(threads)
    for name in ("image", "structures", "instances", "bg_distance", "clusters", "tissue", "shapes"):
        assert torch.equal(getattr(two, name), getattr(one, name)), name
    assert two.names == one.names and two.patient_ids == one.patient_ids


def test_the_split_from_file_names_is_the_split_from_records(png_folder):
    for source in (SAMPLE, {**SAMPLE, "root": str(png_folder)}):
        split = {"fractions": {"train": 0.34, "val": 0.33, "test": 0.33}, "seed": 3}
        records, _ = read_records(SourceConfig.from_dict(source))
        assert source_split(source, split) == split_patients([r.patient_id for r in records], split["fractions"], 3)
    with pytest.raises(DataError, match="patient_id_pattern"):
        source_split({**SAMPLE, "patient_id_pattern": "^(nomatch)_"}, split)
    grouped = SourceConfig.from_dict({**SAMPLE, "root": str(png_folder), "patient_of_series": {"101": "100"}})
    assert patient_ids(grouped) == [r.patient_id for r in read_records(grouped)[0]]
    assert set(patient_ids(grouped)) == {"100", "102"}


def test_inference_precision_resolves_and_casts():
    cpu = torch.device("cpu")
    assert resolve_precision("32", cpu) == "32" and resolve_precision(32, cpu) == "32"
    assert resolve_precision("bf16", cpu) == "bf16"
    assert resolve_precision("auto", cpu) in ("32", "bf16")
    with pytest.raises(ConfigError, match="inference_precision"):
        resolve_precision("fp16", cpu)
    net = nn.Conv2d(1, 2, 3)
    x = torch.rand(1, 1, 8, 8)
    with precision(net, "bf16"):
        assert net(x).dtype == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16), precision(net, "32"):
        assert net(x).dtype == torch.float32  # 32 switches an outer autocast off
    assert np.isfinite(net(x).detach().numpy()).all()


def test_stream_map_keeps_order_errors_and_the_callers_modes():
    cpu = torch.device("cpu")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert stream_map(lambda i: i * i, range(40), cpu) == [i * i for i in range(40)]

        def fail(i):
            if i in (7, 30):
                raise DataError(f"item {i}")
            return i

        with pytest.raises(DataError, match="item 7"):
            stream_map(fail, range(40), cpu)

        def modes(_):
            return (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"), torch.is_grad_enabled(),
                    torch.is_inference_mode_enabled(), torch.get_num_threads(), streams(cpu))

        with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
            assert set(stream_map(modes, range(6), cpu)) == {(True, torch.bfloat16, False, False, 1, 1)}
        with torch.inference_mode():
            assert set(stream_map(modes, range(6), cpu)) == {(False, torch.bfloat16, False, True, 1, 1)}
        assert {m[2] for m in stream_map(modes, range(6), cpu)} == {True}
        with one_stream():
            assert streams(cpu) == 1 and set(stream_map(modes, range(3), cpu)) == {(False, torch.bfloat16, True, False, 2, 1)}
        started = []  # the caller's count is kept, and so is the count threads started later begin with
        thread = threading.Thread(target=lambda: started.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        assert torch.get_num_threads() == 2 and started == [2]
    finally:
        torch.set_num_threads(threads)


class _Segmenter(nn.Module):
    """A U-Net with the hparams inference reads (working grid 1.5 mm, 48 x 32 px windows)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = UNet(base_channels=8).eval()
        self.hparams = SimpleNamespace(preprocess={"spacing_mm": 1.5, "percentiles": [0.5, 99.5], "size": [48, 32]})

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("prec", ["32", "bf16"])
def test_inference_streams_give_the_one_stream_class_maps(prec):
    g = np.random.default_rng(0)
    images = [g.gamma(2.0, 100.0, shape).astype(np.float32) for shape in [(90, 70), (120, 96), (64, 64), (100, 50)] * 3]
    spacings = [(1.0, 1.0), (0.8, 1.2), (1.5, 1.5), (1.0, 2.0)] * 3
    model = _Segmenter()
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        for mode in ("sliding_window", "large_window"):
            for flip in (False, True):
                with precision(model, prec):
                    fast = segment_slices(model, images, spacings, mode=mode, flip_average=flip)
                    with one_stream():
                        plain = segment_slices(model, images, spacings, mode=mode, flip_average=flip)
                # one torch thread and two may round a convolution differently: labels flip at near-ties, which an
                # untrained net has many of (the shipped Model A: benchmarks/inference_streams.py); a wrong order or
                # mode would change most of them
                differ = sum(int((a != b).sum()) for a, b in zip(fast, plain)) / sum(a.size for a in plain)
                assert differ <= (1e-2 if prec == "bf16" else 1e-3), (mode, flip, differ)
                assert [p.shape for p in fast] == [im.shape for im in images]
                assert all(len(np.unique(p)) > 1 for p in fast)  # not a trivial all-one-class map
    finally:
        torch.set_num_threads(threads)

