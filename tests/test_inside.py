"""Inside the network (cnnlab.lessons.inside): the stages shown are the model's own numbers (checked
against forward hooks of our own), the multiply-and-add shown gives the map's value, every model
of the registry walks, the MLP gets its templates, the filter patches and the live view are real."""
from __future__ import annotations

import base64
import io
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from handwriting import DIGITS, render
from PIL import Image
from torch import nn

from cnnlab.config import TrainConfig
from cnnlab.core import checkpoints, datasets
from cnnlab.core.imageio import data_url
from cnnlab.core.nets.models import MODELS, build_model
from cnnlab.core.preprocess import sketch_to_mnist
from cnnlab.lessons import inside

ROOT_CKPT = "checkpoints"


@pytest.fixture(scope="module")
def cnn():
    return checkpoints.load(f"{ROOT_CKPT}/mnist-cnn.pt")


@pytest.fixture(scope="module")
def three(cnn):
    """A hand-drawn 3 as the model sees it."""
    return sketch_to_mnist(np.asarray(render(DIGITS[3])), cnn.mean, cnn.std)


def own_hooks(model, x, modules):
    """Outputs of ``modules`` for ``x``, read with forward hooks registered here (the oracle)."""
    out = {}
    handles = [m.register_forward_hook(lambda m, i, o, k=k: out.__setitem__(k, o.detach()[0].clone()))
               for k, m in enumerate(modules)]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return [out[k] for k in range(len(modules))], logits[0]


def test_cnn_stages_are_the_models_own_numbers(cnn, three):
    f = cnn.model.features
    # conv+BN, ReLU, pool, conv+BN, ReLU, pool, flatten, dense: what a forward hook on each gives
    modules = [f[1], f[2], f[3], f[5], f[6], f[7], f[8], cnn.model.head[1]]
    expected, logits = own_hooks(cnn.model, three.tensor, modules)
    w = inside.walk(cnn.model, three.tensor)
    kinds = [s.kind for s in w.stages]
    assert kinds == ["input", "conv", "act", "pool", "conv", "act", "pool", "flatten", "dense", "softmax"]
    shapes = [inside.shape_text(s.shape) for s in w.stages]
    assert shapes == ["1 x 28 x 28", "16 x 28 x 28", "16 x 28 x 28", "16 x 14 x 14", "32 x 14 x 14",
                      "32 x 14 x 14", "32 x 7 x 7", "1568", "10", "10"]
    for stage, oracle in zip(w.stages[1:-1], expected):
        torch.testing.assert_close(stage.value, oracle, rtol=0, atol=0)     # the very same numbers
    torch.testing.assert_close(w.probs, torch.softmax(logits, 0))
    assert w.stages[1].params == 16 * 25 + 16 + 2 * 16                       # conv + its batch norm
    assert sum(s.params for s in w.stages) == sum(p.numel() for p in cnn.model.parameters())
    assert "(28 + 4 - 5) / 1 + 1 = 28" in str(w.stages[1].detail)            # Texts: English by default
    assert w.stages[1].detail.in_("zh").startswith("16 个 5 x 5 x 1 的卷积核，填充 2，步长 1：(28 + 4 - 5)")
    assert (str(w.stages[1].title), w.stages[1].title.in_("zh")) == ("Convolution 1", "卷积层 1")
    assert w.probs.argmax().item() == 3


@pytest.mark.parametrize("pixel", [(0, 0, 0), (5, 13, 14), (15, 27, 27), (3, 0, 27)])
def test_multiply_and_add_gives_the_maps_value(cnn, three, pixel):
    w = inside.walk(cnn.model, three.tensor)
    for stage in w.convs:
        c, r, q = pixel
        c, r, q = c % stage.shape[0], min(r, stage.shape[1] - 1), min(q, stage.shape[2] - 1)
        m = inside.multiply_add(stage, c, r, q)
        assert m.inputs.shape == m.weights.shape == (stage.input.shape[0], 5, 5)
        assert np.isclose(m.partial.sum() + m.bias, m.total)
        assert abs(m.total - float(stage.value[c, r, q])) < 1e-4           # what the map shows there
        assert m.after == pytest.approx(max(m.total, 0.0), abs=1e-6) and m.after_name == "ReLU"
        relu = w.stages[stage.index + 1]
        assert abs(m.after - float(relu.value[c, r, q])) < 1e-4
        if r == 0:                                                          # the padding is zeros
            assert np.all(m.inputs[:, :2, :] == 0)


def test_the_inputs_under_the_kernel_are_the_drawing(cnn, three):
    stage = inside.walk(cnn.model, three.tensor).convs[0]
    m = inside.multiply_add(stage, 0, 10, 12)
    np.testing.assert_allclose(m.inputs[0], three.tensor[0, 0, 8:13, 10:15].numpy(), atol=1e-7)


def test_multiply_and_add_refuses_what_is_not_there(cnn, three):
    w = inside.walk(cnn.model, three.tensor)
    with pytest.raises(ValueError, match="outside"):
        inside.multiply_add(w.convs[0], 16, 0, 0)
    with pytest.raises(ValueError, match="not a convolution"):
        inside.multiply_add(w.stages[2], 0, 0, 0)
    with pytest.raises(ValueError, match="one picture"):
        inside.walk(cnn.model, torch.zeros(2, 1, 28, 28))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_in_the_registry_walks(name):
    torch.manual_seed(0)
    photo = MODELS[name].inputs == "photo"
    spec = datasets.get_spec("flowers5" if photo else "mnist")
    model = build_model(name, spec, pretrained=False) if photo else build_model(name, spec)
    model.eval()
    # trained-looking batch norm statistics, so folding is really tested
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(1, spec.channels, spec.size, spec.size)
    w = inside.walk(model, x)
    with torch.no_grad():
        torch.testing.assert_close(w.probs, torch.softmax(model(x)[0], 0))
    assert w.stages[0].kind == "input" and w.stages[-1].kind == "softmax"
    assert sum(s.params for s in w.stages) == sum(p.numel() for p in model.parameters())
    has_conv = any(isinstance(m, nn.Conv2d) for m in model.modules())
    assert w.has_maps == has_conv
    for stage in w.convs[:6]:                  # the first few (the transfer model has 50)
        c, h, wd = stage.shape
        for pixel in ((c - 1, 0, 0), (c // 2, h // 2, wd - 1)):
            m = inside.multiply_add(stage, *pixel)
            assert abs(m.total - m.map_value) <= 1e-4 * max(1.0, abs(m.map_value)), (stage.title, pixel)
    if has_conv:
        assert w.convs[0].shape[0] in (16, 32)
    if photo:
        early, late = inside.photo_channels(model, x)
        assert early.maps.shape == (inside.PHOTO_CHANNELS, 112, 112) and late.shape[1:] == (7, 7)


def test_mlp_shows_its_first_layer_as_templates_and_has_no_maps():
    mlp = checkpoints.load(f"{ROOT_CKPT}/mnist-mlp.pt")
    seen = sketch_to_mnist(np.asarray(render(DIGITS[7])), mlp.mean, mlp.std)
    w = inside.walk(mlp.model, seen.tensor)
    assert not w.has_maps and not w.maps
    assert [inside.shape_text(s.shape) for s in w.stages[:3]] == ["1 x 28 x 28", "784", "256"]
    t = inside.templates(mlp.model, seen.tensor)
    first = mlp.model.features[1]
    assert t.layer_units == 256 and t.inputs == 784 and t.weights.shape == (inside.TEMPLATES, 28, 28)
    np.testing.assert_array_equal(t.weights[0], first.weight[t.units[0]].detach().reshape(28, 28).numpy())
    assert t.activations == sorted(t.activations, reverse=True)        # the units it excites most
    dense = w.stages[2].value
    assert t.activations[0] == pytest.approx(float(dense.max()), abs=1e-5)
    assert inside.templates(nn.Sequential(nn.Flatten(), nn.Linear(10, 2))) is None


def test_receptive_fields_grow_through_the_cnn(cnn, three):
    w = inside.walk(cnn.model, three.tensor)
    c1, c2 = w.convs
    assert inside.receptive_field(w.stages, c1.index) == (5, 1, 0.0)
    assert inside.receptive_field(w.stages, c2.index)[:2] == (14, 2)     # 5, pool to 6, +4 x 2


def test_the_most_exciting_patches_really_excite_their_filter(cnn, data_root):
    test = datasets.load("mnist", "test", data_root)
    fp = inside.filter_patches(cnn.model, test.images[:500], test.labels[:500], cnn.spec)
    assert fp.kernels.shape == (16, 5, 5) and fp.patches.shape == (16, inside.PATCHES_PER_FILTER, 15, 15)
    assert np.all(np.diff(fp.strengths, axis=1) <= 0)                   # strongest first
    stage = inside.walk(cnn.model, datasets.normalize(test.images[:1], cnn.spec)).convs[0]
    # oracle: the kernel on the patch's centre (its receptive field) gives the recorded strength
    centre = torch.from_numpy(fp.patches[:, :, 5:10, 5:10].copy()).float()
    x = (centre / 255 - cnn.mean[0]) / cnn.std[0]
    value = (x * stage.weight[:, None, 0]).sum(dim=(2, 3)) + stage.bias[:, None]
    np.testing.assert_allclose(value.numpy(), fp.strengths, atol=1e-3)
    # and nothing in the 500 pictures beats the best one
    with torch.no_grad():
        maps = F.conv2d(datasets.normalize(test.images[:500], cnn.spec), stage.weight, stage.bias, padding=2)
    np.testing.assert_allclose(maps.amax(dim=(0, 2, 3)).numpy(), fp.strengths[:, 0], rtol=1e-4, atol=1e-4)


def test_patch_cache_computes_once_per_file_content_and_stays_bounded(tmp_path):
    cache = inside.PatchCache(size=2)
    calls = []
    a, b, c = (tmp_path / n for n in ("a.pt", "b.pt", "c.pt"))
    for p in (a, b, c):
        p.write_bytes(p.name.encode())
    compute = lambda name: (lambda: calls.append(name) or name)          # noqa: E731
    assert cache.get(a, compute("a1")) == "a1" and cache.get(a, compute("a2")) == "a1"
    a.write_bytes(b"retrained: other weights")                          # same path, new bytes
    assert cache.get(a, compute("a3")) == "a3"
    cache.get(b, compute("b"))
    cache.get(c, compute("c"))
    assert len(cache) == 2 and calls == ["a1", "a3", "b", "c"]


def test_palette_pictures_hold_the_values_in_channel_order():
    values = torch.tensor([[[-2.0, 0.0]], [[1.0, 2.0]]])                  # 2 channels of 1 x 2
    image = Image.open(io.BytesIO(base64.b64decode(data_url(inside.strip_image(values, 2.0)).split(",")[1])))
    assert image.mode == "P" and image.size == (4, 1)
    assert list(np.asarray(image)[0]) == [0, inside.ZERO, inside.ZERO + inside.STEPS // 2, 2 * inside.STEPS]
    assert tuple(image.getpalette()[:3]) == tuple(inside.PALETTE[0])


def fake_event(kind, step=0):
    return SimpleNamespace(kind=kind, step=step, epoch=step / 10)


def test_live_view_copies_the_first_layer_and_maps_at_most_once_a_second(data_root):
    torch.manual_seed(0)
    spec = datasets.get_spec("mnist")
    model = build_model("cnn", spec).train()
    live = inside.LiveInside(data_root, every_s=0.5)
    config = TrainConfig()
    live(fake_event("start"), model, config)
    version, view, _ = live.snapshot()
    assert view is not None and view.kind == "start" and live.taken == 1
    np.testing.assert_array_equal(view.filters, model.features[0].weight.detach().mean(1).numpy())
    assert [m[1] for m in view.maps] == [(16, 28, 28), (16, 28, 28), (16, 14, 14), (32, 14, 14),
                                         (32, 14, 14), (32, 7, 7)]
    assert model.training                                               # eval only for the picture
    with torch.no_grad():
        model.features[0].weight.add_(1.0)                              # training changed the weights
    for step in range(1, 6):
        live(fake_event("step", step), model, config)                   # 5 steps in a moment: throttled
    assert live.snapshot()[0] == version
    time.sleep(0.55)
    live(fake_event("step", 6), model, config)
    version2, view2, _ = live.snapshot()
    assert version2 > version and view2.step == 6
    np.testing.assert_array_equal(view2.filters, model.features[0].weight.detach().mean(1).numpy())
    assert not np.array_equal(view2.filters, view.filters)
    live(fake_event("done", 7), model, config)                          # the end is always taken
    assert live.snapshot()[1].kind == "done"


def test_live_view_says_photo_runs_are_not_shown(data_root):
    live = inside.LiveInside(data_root)
    live(fake_event("start"), nn.Linear(2, 2), TrainConfig(dataset="flowers5", model="transfer"))
    _, view, note = live.snapshot()
    assert view is None and note == "photo"
