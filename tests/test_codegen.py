"""Take the code home: the generated script holds the same network as the app (same weights, same
answers), carries the run's settings, and runs on its own with --dry-run."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
import torch

from cnnlab.config import TrainConfig
from cnnlab.core import codegen, datasets, optimizers
from cnnlab.core.nets import builder
from cnnlab.core.nets.models import build_model

OWN = [{"type": "conv", "channels": 6, "kernel": 3, "stride": 2}, {"type": "leakyrelu"},
       {"type": "avgpool", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 24},
       {"type": "batchnorm"}, {"type": "tanh"}, {"type": "dropout", "p": 0.1}]
SETTINGS = [
    TrainConfig(model="cnn", augment=True),
    TrainConfig(dataset="fashion", model="mlp", optimizer="sgd", lr=0.1, schedule="constant", train_size=5000),
    TrainConfig(model="lenet", optimizer="momentum", lr=0.05, batch_size=64, epochs=2),
    TrainConfig(dataset="fashion", model="cnn-deep", optimizer="rmsprop", lr=1e-3, weight_decay=5e-4),
    TrainConfig(model="custom", layers=OWN, batch_size=32, seed=3),
]


def load_script(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)                     # main() only runs as a program
    return module


@pytest.mark.parametrize("config", SETTINGS, ids=lambda c: f"{c.dataset}-{c.model}-{c.optimizer}")
@pytest.mark.slow
def test_the_script_trains_the_same_network_and_runs(config, tmp_path, data_root):
    path = tmp_path / codegen.script_name(config)
    path.write_text(codegen.script(config))
    module = load_script(path)
    spec = datasets.get_spec(config.dataset)
    torch.manual_seed(0)
    ours = build_model(config.model, spec, layers=config.layers).eval()
    theirs = module.Net().eval()
    theirs.load_state_dict(ours.state_dict(), strict=True)          # the same layers, the same names
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), ours(x))

    text = path.read_text()
    assert f"default={config.batch_size})" in text and f"default={config.lr!r}, " in text
    assert ("RandomAffine" in text) == config.augment
    assert ("OneCycleLR" in text) == (config.schedule == "onecycle")
    decay = "args.weight_decay" if config.weight_decay else None
    assert optimizers.code(config.optimizer, "model.parameters()", "args.lr", decay, module="optim") in text

    env = {**os.environ, "CNNLAB_DATA": str(data_root)}
    run = subprocess.run([sys.executable, str(path), "--dry-run"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    params = builder.summarize(codegen.layers_of(config), spec).params
    assert f"{params:,} parameters" in run.stdout
    assert re.search(r"epoch 1 \[0/\d+\] loss \d", run.stdout)
    assert re.search(r"test loss [\d.]+, accuracy \d+/1000", run.stdout), run.stdout


def test_settings_it_cannot_write_are_refused_with_a_reason():
    with pytest.raises(codegen.CodegenError, match="lstm model"):
        codegen.script(TrainConfig(model="lstm"))
    with pytest.raises(codegen.CodegenError, match="Flowers"):
        codegen.script(TrainConfig(dataset="flowers5", model="transfer"))
    with pytest.raises(codegen.CodegenError, match="flatten"):
        codegen.script(TrainConfig(model="custom", layers=[{"type": "dense", "units": 3}]))


@pytest.mark.parametrize("dropout, layer", [(0.0, "nn.Dropout(0)"), (0.4, "nn.Dropout(0.4)"),
                                            (None, "nn.Dropout(0.25)")])
def test_the_script_drops_what_the_run_dropped(dropout, layer):
    """The live run sets the registry CNN's dropout (none by default): the script writes the run's."""
    text = codegen.script(TrainConfig(model="cnn", dropout=dropout))
    assert layer in text and text.count("nn.Dropout(") == 1
