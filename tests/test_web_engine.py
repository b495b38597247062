"""The browser engine (cnnlab/ui/web/engine) gives PyTorch's numbers: every model the browser runs,
exported by cnnlab.core.nets.webexport, answers 500 test images and drawn digits in node as in PyTorch
(probabilities within 1e-4 with float32 weights, 2e-3 with float16; the same top class everywhere),
and every layer's output, which the Inside tab draws, agrees too.

Run alone (the figures are printed): pytest tests/test_web_engine.py -s
"""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from handwriting import DIGITS, render
from torch import nn

from cnnlab.core import checkpoints, datasets, inference
from cnnlab.core.nets import builder, models, webexport
from cnnlab.core.preprocess import sketch_to_mnist

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "js" / "run_engine.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js 18 or later) is not installed: "
                                                     "the browser engine's tests run it")

N_IMAGES = 500              # test images per model (the issue asks for 500)
LAYERS_FOR = 3              # images whose every layer is compared
TOLERANCE = {"float32": 1e-4, "float16": 2e-3}         # max |probability difference|
# every layer's output, relative to the largest value of that layer (or 1): measured at most 7e-7
# (float32) and 4e-4 (float16 weights, which round each to 2^-11 of itself)
LAYER_TOLERANCE = {"float32": 1e-5, "float16": 2e-3}
PEN_WIDTHS = (1, 5, 12, 22, 40)         # pixels on a 280 x 280 canvas: a mouse line to a fat finger
SHIPPED = {"mnist-cnn": "mnist", "mnist-mlp": "mnist", "fashion-cnn-deep": "fashion"}

# A built network with everything the engine knows: batch norm after a conv (folded), after an
# activation (on its own) and after a dense layer (folded), a convolution without bias, stride 2,
# padding, average and max pooling, tanh, sigmoid, leaky ReLU, and dropout in the middle and at the end.
CUSTOM = [
    {"type": "conv", "channels": 8, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "tanh"},
    {"type": "conv", "channels": 12, "kernel": 5, "padding": 2, "stride": 2, "bias": False},
    {"type": "batchnorm"}, {"type": "relu"}, {"type": "avgpool", "size": 2},
    {"type": "conv", "channels": 16, "kernel": 3, "padding": 0}, {"type": "sigmoid"}, {"type": "batchnorm"},
    {"type": "maxpool", "size": 2}, {"type": "flatten"}, {"type": "dropout", "p": 0.2},
    {"type": "dense", "units": 32}, {"type": "batchnorm"}, {"type": "leakyrelu"},
    {"type": "dense", "units": 16}, {"type": "sigmoid"}, {"type": "dropout", "p": 0.3},
]
FRESH = ("mlp", "cnn", "lenet", "cnn-deep", "custom")


def drawn_digits(mean, std) -> np.ndarray:
    """Every handwriting digit at every pen width, through the server's preprocessing: (N, 1, 28, 28)."""
    seen = []
    for width in PEN_WIDTHS:
        for strokes in DIGITS.values():
            prepared = sketch_to_mnist(np.asarray(render(strokes, width=width)), mean, std)
            seen.append(prepared.seen)
    return np.stack(seen)[:, None]


def fresh(name: str) -> checkpoints.Loaded:
    """A freshly initialised registry model (or the built network above) with random batch-norm
    statistics (fresh ones are the identity and would hide a wrong fold), as a loaded checkpoint."""
    torch.manual_seed(sum(map(ord, name)))
    spec = datasets.get_spec("mnist")
    model = models.build_model(name, spec, layers=CUSTOM if name == builder.BUILT else None)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.3, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    # The fresh CNN also answers with its mirror image, the LeNet with a calibration temperature:
    # both travel in the header.
    return checkpoints.Loaded(model.eval(), name, "mnist", spec.classes, spec.mean, spec.std, spec.size,
                              spec.channels, {}, {}, temperature=1.7 if name == "lenet" else 1.0,
                              mirror=name == "cnn")


def run_engine(tmp_path: Path, data: bytes, images: np.ndarray, layers_for: int):
    """(probabilities (N, classes), [[layer outputs] per image], what the runner said) from node."""
    weights, pixels, out = tmp_path / "model.bin", tmp_path / "images.u8", tmp_path / "out.f32"
    weights.write_bytes(data)
    pixels.write_bytes(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    done = subprocess.run([NODE, str(RUNNER), str(weights), str(pixels), str(len(images)), str(out),
                           str(layers_for)], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    values = np.fromfile(out, dtype="<f4")
    classes = info["classes"]
    probs = values[:len(images) * classes].reshape(len(images), classes)
    at, layers = len(images) * classes, []
    for _ in range(min(layers_for, len(images))):
        outputs = []
        for layer in info["layers"]:
            size = int(np.prod(layer["shape"]))
            outputs.append(values[at:at + size].reshape(layer["shape"]))
            at += size
        layers.append(outputs)
    assert at == len(values)
    return probs, layers, info


def torch_answers(loaded, images: np.ndarray) -> np.ndarray:
    """The probabilities the server answers with (mirror averaging and temperature included)."""
    x = datasets.normalize(torch.from_numpy(images), (loaded.mean, loaded.std))
    with torch.inference_mode():
        logits, _ = inference.scores(loaded, x, measure=False)
        return torch.softmax(logits / loaded.temperature, dim=1).numpy()


def torch_layers(loaded, header: dict, images: np.ndarray) -> list[np.ndarray]:
    """PyTorch's version of each entry of the engine's ``layers``: the input, the output of the last
    module each exported layer stands for, the probabilities. Arrays (N, *shape)."""
    x = datasets.normalize(torch.from_numpy(images), (loaded.mean, loaded.std))
    seen: dict[str, torch.Tensor] = {}
    hooks = [loaded.model.get_submodule(layer["modules"][-1]).register_forward_hook(
        lambda m, i, o, key=layer["modules"][-1]: seen.__setitem__(key, o.detach().clone()))
        for layer in header["layers"]]
    try:
        with torch.inference_mode():
            loaded.model(x)
    finally:
        for h in hooks:
            h.remove()
    return [x.numpy(), *(seen[layer["modules"][-1]].numpy() for layer in header["layers"]),
            torch_answers(loaded, images)]


@dataclass
class Case:
    name: str
    loaded: checkpoints.Loaded
    images: np.ndarray          # uint8 (N, 1, 28, 28): test images, then drawn digits


@pytest.fixture(scope="module")
def cases(data_root) -> dict[str, Case]:
    out = {}
    loaded = {name: checkpoints.load(ROOT / "checkpoints" / f"{name}.pt") for name in SHIPPED}
    loaded.update({f"fresh-{name}": fresh(name) for name in FRESH})
    for name, ld in loaded.items():
        test = datasets.load(ld.dataset, "test", root=data_root).images[:N_IMAGES].numpy()
        out[name] = Case(name, ld, np.concatenate([test, drawn_digits(ld.mean, ld.std)]))
    return out


@pytest.mark.parametrize("dtype", webexport.DTYPES)
@pytest.mark.parametrize("name", [*SHIPPED, *(f"fresh-{n}" for n in FRESH)])
@pytest.mark.slow
def test_engine_gives_pytorchs_answers(cases, tmp_path, name, dtype):
    case = cases[name]
    header, blob = webexport.export_for_browser(case.loaded, dtype)
    data = webexport.pack(header, blob)
    probs, layers, info = run_engine(tmp_path, data, case.images, LAYERS_FOR)
    want = torch_answers(case.loaded, case.images)
    worst = float(np.abs(probs - want).max())
    same_top = float((probs.argmax(1) == want.argmax(1)).mean())
    assert [layer["name"] for layer in info["layers"]] == \
        ["input", *(layer["name"] for layer in header["layers"]), "softmax"]
    reference = torch_layers(case.loaded, header, case.images[:LAYERS_FOR])
    worst_layer = (0.0, "")
    for k, outputs in enumerate(layers):
        for layer, js, ref in zip(info["layers"], outputs, reference):
            ref = ref[k]
            assert js.shape == ref.shape, layer["name"]
            if layer["kind"] == "softmax":
                assert np.abs(js - ref).max() <= TOLERANCE[dtype], layer["name"]
                continue
            relative = float(np.abs(js - ref).max()) / max(1.0, float(np.abs(ref).max()))
            worst_layer = max(worst_layer, (relative, layer["name"]))
            assert relative <= LAYER_TOLERANCE[dtype], (layer["name"], relative)
    print(f"\n{name} {dtype}: max |dp| {worst:.2e} over {len(want)} inputs, same top class {same_top:.2%}; "
          f"layers: max |d| / max(1, |layer|) {worst_layer[0]:.1e} ({worst_layer[1]}); {len(data)} bytes "
          f"({len(gzip.compress(data, 9))} gzipped); {info['ms_per_image']:.3f} ms/image in node")
    assert worst <= TOLERANCE[dtype]
    assert same_top == 1.0


def test_shipped_cnn_is_small_on_the_wire():
    """The shipped MNIST CNN: at most 150 kB for a phone to download (float16 weights, gzipped)."""
    loaded = checkpoints.load(ROOT / "checkpoints" / "mnist-cnn.pt")
    data, digest = webexport.browser_file(loaded)
    assert len(gzip.compress(data)) <= 150_000
    assert webexport.browser_file(loaded) == (data, digest)                   # the same bytes every time
    header, blob = webexport.unpack(data)
    assert header["classes"] == list(loaded.classes) and header["mean"] == list(loaded.mean)
    assert header["temperature"] == loaded.temperature and len(blob) == header["blob_bytes"]
    assert [layer["kind"] for layer in header["layers"]] == \
        ["conv", "relu", "maxpool", "conv", "relu", "maxpool", "flatten", "dense"]
    assert header["layers"][0]["batchnorm"] and header["embed"] == "flatten1"


def test_models_the_browser_cannot_run_say_so():
    spec = datasets.get_spec("mnist")
    lstm = models.build_model("lstm", spec)
    loaded = checkpoints.Loaded(lstm.eval(), "lstm", "mnist", spec.classes, spec.mean, spec.std, 28, 1, {}, {})
    with pytest.raises(webexport.WebExportError) as err:
        webexport.export_for_browser(loaded)
    assert err.value.args[0].key == "webexport.not_in_browser"
    assert not webexport.runs_in_browser(loaded)

    class Odd(models.Classifier):                          # a layer the engine does not have
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.GELU())
            self.head = nn.Linear(8, 10)
    odd = checkpoints.Loaded(Odd().eval(), "mlp", "mnist", spec.classes, spec.mean, spec.std, 28, 1, {}, {})
    with pytest.raises(webexport.WebExportError) as err:
        webexport.export_for_browser(odd)
    assert err.value.args[0].fields["why"].fields["layer"] == "GELU"
    with pytest.raises(webexport.WebExportError):
        webexport.export_for_browser(fresh("mlp"), "int8")
    assert webexport.runs_in_browser(fresh("custom"))


def test_engine_unit_tests_pass_in_node():
    """The engine's own unit tests (hand-computed small examples) and the Train feed's page side:
    node --test."""
    files = [str(ROOT / "tests" / "js" / f"{name}.test.mjs") for name in ("conv", "model", "preprocess", "train_feed")]
    done = subprocess.run([NODE, "--test", *files], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
