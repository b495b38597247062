"""The network builder: stacks -> models with the right shapes and parameter counts, the registry's
models as templates (same weights, same answers), sentences for stacks that cannot work, and
checkpoints that carry the stack as plain data."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn

from cnnlab.config import LimitError, TrainConfig
from cnnlab.core import checkpoints, datasets, optimizers
from cnnlab.core.checks import check_train
from cnnlab.core.nets import builder
from cnnlab.core.nets.builder import TEMPLATES, BuildError, build, summarize, template
from cnnlab.core.nets.models import build_model

MNIST = datasets.get_spec("mnist")


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_templates_are_the_registry_models(name):
    """A template loads the registry model's weights with strict keys and gives the same answers."""
    torch.manual_seed(0)
    registry = build_model(name, MNIST).eval()
    built = build(template(name), MNIST).eval()
    built.load_state_dict(registry.state_dict(), strict=True)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(built(x), registry(x))
        torch.testing.assert_close(built.embed(x), registry.embed(x))
    summary = summarize(template(name), MNIST)
    assert summary.ok
    assert summary.params == sum(p.numel() for p in registry.parameters())


def test_every_row_has_the_shape_and_parameters_the_model_really_has():
    layers = [{"type": "conv", "channels": 8, "kernel": 3, "padding": 0, "stride": 2},
              {"type": "batchnorm"}, {"type": "leakyrelu"}, {"type": "avgpool", "size": 2},
              {"type": "conv", "channels": 12, "kernel": 3}, {"type": "tanh"}, {"type": "flatten"},
              {"type": "dense", "units": 20}, {"type": "batchnorm"}, {"type": "sigmoid"},
              {"type": "dropout", "p": 0.5}]
    summary = summarize(layers, MNIST)
    assert summary.ok, summary.problem
    model = build(layers, MNIST).eval()
    # walk the real modules with forward hooks and compare with the rows
    modules = list(model.features) + (list(model.head) if isinstance(model.head, nn.Sequential) else [model.head])
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:]))) for m in modules]
    with torch.no_grad():
        model(torch.zeros(2, 1, 28, 28))
    for h in hooks:
        h.remove()
    assert [r.shape for r in summary.rows] == shapes
    assert [r.params for r in summary.rows] == [sum(p.numel() for p in m.parameters()) for m in modules]
    assert summary.rows[0].shape == (8, 13, 13) and summary.rows[3].shape == (8, 6, 6)
    assert str(summary.rows[-1].title).startswith("output: dense 10")
    assert summary.params == sum(p.numel() for p in model.parameters())
    assert model.embed(torch.zeros(1, 1, 28, 28)).shape == (1, 20)     # what the output layer sees


def test_logistic_regression_is_one_flatten():
    summary = summarize([{"type": "flatten"}], MNIST)
    assert summary.ok and summary.params == 784 * 10 + 10


@pytest.mark.parametrize("layers, words", [
    ([{"type": "dense", "units": 64}], ["Layer 1 (dense)", "1 x 28 x 28", "add a flatten layer before it"]),
    ([{"type": "flatten"}, {"type": "conv", "channels": 8, "kernel": 3}],
     ["Layer 2 (convolution)", "flat vector of 784", "before the flatten"]),
    ([{"type": "maxpool", "size": 4}, {"type": "maxpool", "size": 4}, {"type": "conv", "channels": 8, "kernel": 5,
                                                                        "padding": 0}],
     ["Layer 3 (convolution)", "1x1 image", "5x5 kernel"]),
    ([{"type": "maxpool", "size": 4}, {"type": "maxpool", "size": 4}, {"type": "maxpool", "size": 2}],
     ["Layer 3 (max pooling)", "1x1 image", "2x2 window"]),
    ([{"type": "conv", "channels": 8, "kernel": 3}], ["output layer", "8 x 28 x 28", "flatten"]),
    ([{"type": "conv", "channels": 999, "kernel": 3}], ["Layer 1 (convolution): channels", "1 to 256", "999"]),
    ([{"type": "conv", "channels": "lots"}], ["Layer 1 (convolution): channels", "whole number", "lots"]),
    ([{"type": "dropout", "p": 1.5}], ["Layer 1 (dropout): p", "0.0 to 0.9"]),
    ([{"type": "softmaxx"}], ["Layer 1", "'softmaxx'", "not a layer type"]),
    ([{"type": "dense", "units": 10, "kernel": 3}], ["Layer 1 (dense)", "no setting called 'kernel'"]),
    ([{"type": "relu"}] * 30, ["30 layers", "at most 24"]),
    ([{"type": "flatten"}, {"type": "dense", "units": 2048}, {"type": "dense", "units": 2048}],
     ["parameters", "at most 2,000,000", "layer 3 (dense 2048)"]),
    ([{"type": "conv", "channels": 64, "kernel": 7}, {"type": "conv", "channels": 64, "kernel": 7},
      {"type": "flatten"}], ["multiply-adds", "layer 2 (conv 64, 7x7, padding 3)"]),
    ("conv", ["list of layers"]),
])
def test_a_stack_that_cannot_work_gets_a_sentence_naming_the_layer(layers, words):
    problem = builder.check(layers, MNIST)
    assert problem is not None
    for w in words:
        assert w in str(problem), (w, problem)
    with pytest.raises(BuildError):
        build(layers, MNIST)


def test_photos_are_refused_with_a_reason():
    assert "transfer model" in str(builder.check(template("cnn"), datasets.get_spec("flowers5")))


def test_train_config_checks_the_stack_on_the_server():
    ok = TrainConfig(model="custom", layers=template("lenet"))
    assert check_train(ok) is ok
    for config, words in ((TrainConfig(model="custom", layers=[{"type": "dense", "units": 5}]), "flatten"),
                          (TrainConfig(model="custom"), "no layers yet"),
                          (TrainConfig(model="cnn", layers=template("cnn")), "not the 'cnn' model")):
        with pytest.raises(LimitError, match=words):
            check_train(config)
    json.dumps(ok.to_dict())                                # the config stays plain data


def test_a_built_network_saves_its_stack_and_loads_with_weights_only_and_strict_keys(tmp_path):
    layers = [{"type": "conv", "channels": 4, "kernel": 3}, {"type": "relu"}, {"type": "maxpool", "size": 2},
              {"type": "flatten"}, {"type": "dense", "units": 16}, {"type": "tanh"}, {"type": "dropout", "p": 0.1}]
    torch.manual_seed(1)
    model = build(layers, MNIST).eval()
    path = checkpoints.save(tmp_path / "mine.pt", model, "custom", "mnist",
                            TrainConfig(model="custom", layers=layers).to_dict())
    raw = torch.load(path, weights_only=True)                  # plain data only: no pickled modules
    assert raw["model"] == "custom" and raw["layers"][0] == {"type": "conv", "channels": 4, "kernel": 3,
                                                             "padding": 1, "stride": 1, "bias": True}
    loaded = checkpoints.load(path)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x))
    # a stack that does not match the weights is refused, never half-loaded
    bad = copy.deepcopy(raw)
    bad["layers"][4]["units"] = 17
    with pytest.raises(checkpoints.CheckpointError, match="do not match"):
        checkpoints.from_payload(bad, "bad.pt")
    # a stack beyond the limits is refused before anything is built
    huge = copy.deepcopy(raw)
    huge["layers"][4]["units"] = 10 ** 9
    with pytest.raises(checkpoints.CheckpointError, match="cannot be built.*units"):
        checkpoints.from_payload(huge, "huge.pt")


@pytest.mark.slow
def test_a_built_network_learns(data_root):
    """Overfit one batch of real digits: the loss falls well below chance."""
    from cnnlab.core import training
    data = datasets.load("mnist", "test", data_root).subset(64)
    torch.manual_seed(0)
    model = build([{"type": "conv", "channels": 8, "kernel": 3}, {"type": "relu"}, {"type": "maxpool", "size": 2},
                   {"type": "flatten"}, {"type": "dense", "units": 32}, {"type": "relu"}], MNIST)
    opt = optimizers.make("adam", model.parameters(), 3e-3)
    x, y = next(training.batches(data, 64, torch.device("cpu")))
    learner = training.Learner(model.train(), opt)
    first = learner.step(x, y)
    for _ in range(60):
        last = learner.step(x, y)
    assert first > 2.0 and last < 0.1
