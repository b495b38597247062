"""The browser Playground's maths against PyTorch (issue 27): the engine's dense layers and
optimizers (cnnlab/ui/web/engine/dense.js, optim.js) and the Playground built on them
(cnnlab/ui/web/playground/), run under node.

PyTorch makes the fixtures here: initial weights and 200 fixed batches of 32; every optimizer of
the course (SGD, Momentum 0.8, RMSprop alpha 0.9, Adam (0.9, 0.99), lr 0.01) x every activation
x both losses (MSE; cross-entropy, as the Playground classifies), 200 steps in float32. The
JavaScript runs the same steps from the same fixtures (tests/js/run_playground.mjs); each step's
loss must be within 1e-5 (relative) of PyTorch's, the final weights within 1e-5. The same for
L1 / L2, three classes, no hidden layer and the largest network (SGD, Momentum). Two kinds of case
cannot be held to 1e-5 by any float32 implementation, and are held to what PyTorch itself does
(see KINK and CHAOTIC). Then the data sets, initial weights and batches against the PyTorch
code the page shows for a setting (same seed, same numbers), and the course's figures from the JavaScript alone.
Skipped, saying why, where node is missing.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "js" / "run_playground.mjs"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the browser Playground's "
                                                     "JavaScript runs under node in these tests")

STEPS, BATCH, LR = 200, 32, 0.01                 # the fixtures: 200 steps, batch 32, lr 0.01
LOSS_RTOL, WEIGHT_ATOL = 1e-5, 1e-5              # the bounds
ACTIVATIONS = {"relu": F.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "linear": lambda x: x}
# The course's four optimizers with the course's settings (cnnlab.playground.OPTIMIZERS).
OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=LR),
    "momentum": lambda p: torch.optim.SGD(p, lr=LR, momentum=0.8),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=LR, alpha=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=LR, betas=(0.9, 0.99)),
}
LOSSES = ("mse", "ce")


class Net(nn.Module):
    """The Playground's net (cnnlab.playground.Net): hidden Linear + activation, a Linear output."""

    def __init__(self, sizes, activation):
        super().__init__()
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.predict = nn.Linear(sizes[-2], sizes[-1])
        self.activation = ACTIVATIONS[activation]

    def forward(self, x):
        for layer in self.hidden:
            x = self.activation(layer(x))
        return self.predict(x)


def run_node(request: dict, tmp_path: Path) -> dict:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    done = subprocess.run([NODE, str(RUNNER), str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ------------------------------------------------------------------ the fixtures
def fixture_batches() -> dict:
    """200 batches of 32 points of the plane: regression targets (a smooth surface plus noise)
    and two or three classes (by quadrant and by angle)."""
    g = torch.Generator().manual_seed(0)
    x = 2 * torch.randn(STEPS, BATCH, 2, generator=g)
    x7 = torch.cat([x, x ** 2, x[..., :1] * x[..., 1:], torch.sin(x)], -1)        # the seven features
    y_mse = torch.sin(x[..., :1]) + x[..., 1:] ** 2 / 4 + 0.1 * torch.randn(STEPS, BATCH, 1, generator=g)
    y_two = (x[..., 0] * x[..., 1] > 0).long()
    y_three = ((torch.atan2(x[..., 1], x[..., 0]) + torch.pi) / (2 * torch.pi) * 3).long().clamp(0, 2)
    y_four = ((torch.atan2(x[..., 1], x[..., 0]) + torch.pi) / (2 * torch.pi) * 4).long().clamp(0, 3)
    return {"mse": (x, y_mse), "ce": (x, y_two), "ce3": (x, y_three), "mse7": (x7, y_mse), "ce4-7": (x7, y_four)}


def case(cid, optimizer, activation, loss, batches="", sizes=None, regularization="none", reg_rate=0.0, seed=0):
    batches = batches or loss
    n_out = {"mse": 1, "mse7": 1, "ce": 2, "ce3": 3, "ce4-7": 4}[batches]
    n_in = 7 if batches.endswith("7") else 2
    sizes = sizes or [n_in, 8, 6, n_out]
    return dict(id=cid, sizes=sizes, activation=activation, loss=loss, optimizer=optimizer, lr=LR,
                regularization=regularization, reg_rate=reg_rate, batches=batches, seed=seed)


GRID = [case(f"{o}-{a}-{loss}", o, a, loss, seed=i)
         for i, (o, a, loss) in enumerate((o, a, loss) for o in OPTIMIZERS for a in ACTIVATIONS for loss in LOSSES)]
EXTRA = [   # what else the tab offers: L1 / L2, more classes, no hidden layer, the largest network
    case("adam-tanh-mse-L2", "adam", "tanh", "mse", regularization="L2", reg_rate=0.003, seed=101),
    case("sgd-relu-ce-L1", "sgd", "relu", "ce", regularization="L1", reg_rate=0.001, seed=102),
    case("momentum-sigmoid-ce-L2", "momentum", "sigmoid", "ce", regularization="L2", reg_rate=0.01, seed=103),
    case("rmsprop-tanh-mse-L1", "rmsprop", "tanh", "mse", regularization="L1", reg_rate=0.003, seed=104),
    case("adam-relu-ce-3-classes", "adam", "relu", "ce", batches="ce3", seed=105),
    case("sgd-linear-mse-no-hidden", "sgd", "linear", "mse", sizes=[2, 1], seed=106),
    case("sgd-tanh-ce-largest", "sgd", "tanh", "ce", batches="ce4-7", sizes=[7] + [16] * 6 + [4], seed=107),
    case("momentum-relu-mse-largest", "momentum", "relu", "mse", batches="mse7", sizes=[7] + [16] * 6 + [1], seed=108),
]
# The largest network with an adaptive optimizer on the seven features is chaotic here: PyTorch
# itself, from initial weights one ulp apart, ends 3e-3 to 3e-2 apart. No float32 implementation
# can stay within 1e-5 of it for 200 steps; the browser must stay as close as PyTorch stays to itself.
CHAOTIC = [case("adam-tanh-ce-largest", "adam", "tanh", "ce", batches="ce4-7", sizes=[7] + [16] * 6 + [4], seed=107),
           case("rmsprop-relu-mse-largest", "rmsprop", "relu", "mse", batches="mse7", sizes=[7] + [16] * 6 + [1],
                seed=108)]
# L1 at its kink: a dead ReLU unit's weight, pushed by L1 alone, steps between exactly 0 and +-lr
# under RMSprop (a normalised step). PyTorch's float32 sqrt (MKL's) is not always correctly
# rounded, so one step in PyTorch lands on 0.0 exactly (sign 0: no push) where the browser's lands
# 1e-9 away and takes one more step of lr; the weight is back in step two steps later. Such a step
# moves the loss by about rate * lr (3e-5 here), so the bound on the losses is 1e-4 for this case.
KINK = [case("rmsprop-relu-mse-L1", "rmsprop", "relu", "mse", regularization="L1", reg_rate=0.003, seed=104)]
KINK_LOSS_RTOL = 1e-4


def torch_run(c: dict, batches: dict, nudge: bool = False) -> tuple[list, np.ndarray, np.ndarray]:
    """PyTorch's 200 steps of a case: (initial weights, each step's loss, final weights); with
    ``nudge``, from initial weights one ulp up (how far PyTorch strays from itself)."""
    torch.manual_seed(c["seed"])
    net = Net(c["sizes"], c["activation"])
    if nudge:
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.nextafter(p, torch.full_like(p, 10.0)))
    init = [p.detach().clone().flatten().tolist() for p in net.parameters()]
    opt = OPTIMIZERS[c["optimizer"]](net.parameters())
    x, y = batches[c["batches"]]
    losses = []
    for s in range(STEPS):
        out = net(x[s])
        loss = F.mse_loss(out, y[s]) if c["loss"] == "mse" else F.cross_entropy(out, y[s])
        if c["regularization"] != "none":                # cnnlab.playground.penalty
            weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
            term = (lambda w: w.abs().sum()) if c["regularization"] == "L1" else (lambda w: (w ** 2).sum())
            loss = loss + c["reg_rate"] * sum(term(w) for w in weights)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    final = np.concatenate([p.detach().flatten().numpy() for p in net.parameters()])
    return init, np.array(losses), final


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """{case id: (PyTorch's losses, final weights, node's losses, final weights)}, one node run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                     # PyTorch's sums in one order, as the fixtures were made
    batches = fixture_batches()
    cases, truth = [], {}
    for c in GRID + EXTRA + KINK + CHAOTIC:
        init, losses, final = torch_run(c, batches)
        cases.append({**c, "init": init})
        truth[c["id"]] = (losses, final)
    torch.set_num_threads(threads)
    for c in CHAOTIC:
        truth[c["id"] + "+1ulp"] = torch_run(c, batches, nudge=True)[1:]
    wire = {k: {"n": BATCH, "steps": STEPS, "X": x.flatten().tolist(), "Y": y.flatten().tolist()}
            for k, (x, y) in batches.items()}
    answer = run_node({"cases": cases, "batches": wire}, tmp_path_factory.mktemp("steps"))
    out = {c["id"]: (*truth[c["id"]], np.array(c["losses"]), np.concatenate([np.array(p) for p in c["final"]]))
           for c in answer["cases"]}
    for c in CHAOTIC:
        out[c["id"] + "+1ulp"] = (*truth[c["id"]], *truth[c["id"] + "+1ulp"])
    return out


def differences(steps, cid) -> tuple[float, float]:
    losses, final, js_losses, js_final = steps[cid]
    assert js_losses.shape == losses.shape == (STEPS,) and js_final.shape == final.shape
    return float(np.max(np.abs(js_losses - losses) / np.abs(losses))), float(np.max(np.abs(js_final - final)))


@pytest.mark.parametrize("cid", [c["id"] for c in GRID])
@pytest.mark.slow
def test_200_steps_of_every_optimizer_activation_and_loss_match_pytorch(steps, cid):
    loss_rel, weight_abs = differences(steps, cid)
    assert loss_rel <= LOSS_RTOL, f"{cid}: a step's loss differs from PyTorch's by {loss_rel:.2e} (relative)"
    assert weight_abs <= WEIGHT_ATOL, f"{cid}: the final weights differ from PyTorch's by {weight_abs:.2e}"


@pytest.mark.parametrize("cid", [c["id"] for c in EXTRA])
@pytest.mark.slow
def test_regularization_more_classes_and_the_largest_network_match_pytorch(steps, cid):
    loss_rel, weight_abs = differences(steps, cid)
    assert loss_rel <= LOSS_RTOL and weight_abs <= WEIGHT_ATOL, (cid, loss_rel, weight_abs)


@pytest.mark.slow
def test_l1_at_its_kink_stays_with_pytorch(steps):
    loss_rel, weight_abs = differences(steps, KINK[0]["id"])
    assert loss_rel <= KINK_LOSS_RTOL and weight_abs <= WEIGHT_ATOL, (loss_rel, weight_abs)


@pytest.mark.parametrize("cid", [c["id"] for c in CHAOTIC])
@pytest.mark.slow
def test_where_pytorch_is_chaotic_the_browser_strays_no_further_than_pytorch_from_itself(steps, cid):
    loss_rel, weight_abs = differences(steps, cid)
    own_loss_rel, own_weight_abs = differences(steps, cid + "+1ulp")
    losses, _, js_losses, _ = steps[cid]
    assert np.max(np.abs(js_losses[:10] - losses[:10]) / losses[:10]) <= LOSS_RTOL       # before it grows
    assert loss_rel <= 3 * own_loss_rel and weight_abs <= 3 * own_weight_abs, \
        (loss_rel, own_loss_rel, weight_abs, own_weight_abs)


@pytest.mark.slow
def test_the_fixtures_train(steps):
    """The comparison means something: the networks learn over the 200 steps (so the gradients
    and updates are not all near zero)."""
    learned = [cid for cid, (losses, *_) in steps.items() if "+" not in cid
               and losses[-20:].mean() < 0.9 * losses[:20].mean()]
    assert len(learned) >= 0.7 * len(GRID + EXTRA), sorted(set(steps) - set(learned))


# ------------------------------------------------------------------ the same numbers as the code the page shows
# The server no longer trains: its part is the PyTorch code of a setting (cnnlab.lessons.playground
# .code_for). That code, run here, is the oracle: the same data, initial weights, batches and steps.
def server_playground():
    from cnnlab.lessons import playground
    return playground


def run_code(s, steps: int) -> dict:
    """Run the code the page shows for ``s`` (STEPS = steps) and return its variables."""
    import contextlib
    import io
    pg = server_playground()
    names = {"__name__": "playground"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(pg.code_for(s, steps), "playground.py", "exec"), names)
    return names


def evaluate(names) -> dict:
    """The script's network on its training points: the loss (without the penalty) and accuracy."""
    with torch.no_grad():
        out = names["net"](names["features"](names["x_train"]))
        loss = names["loss_func"](out, names["y_train"]).item()
        acc = (out.argmax(1) == names["y_train"]).float().mean().item() if out.shape[1] > 1 else None
    return {"train": loss, "train_acc": acc}


def as_json(s) -> dict:
    from dataclasses import asdict
    return {**asdict(s), "features": list(s.features), "hidden": list(s.hidden), "own": [list(r) for r in s.own]}


def data_settings(pg) -> list:
    """Every data set at its defaults, and at the edges: 10 points (PyTorch's small-tensor
    normals), 1000, an odd count, no noise, a train/test split, 2-4 classes."""
    out = []
    for name, spec in pg.DATASETS.items():
        if spec.own:
            continue
        variants = [(spec.points, spec.noise, 1.0, 1), (10, 0.3, 0.5, 7), (15, 0.0, 0.7, 3), (1000, 1.0, 0.35, 12345),
                    (201, spec.noise, 0.5, 2)]
        for points, noise, ratio, seed in variants:
            for classes in ((2, 3, 4) if spec.many_classes else (2,)):
                features = pg.FEATURES_1D if spec.dims == 1 else tuple(pg.FEATURES)
                out.append(pg.Settings(dataset=name, points=points, noise=noise, classes=classes, train_ratio=ratio,
                                       data_seed=seed, features=features, hidden=(), batch_size=1000))
    return out


def test_every_data_set_is_the_shown_codes_for_the_same_seed(tmp_path):
    pg = server_playground()
    settings = data_settings(pg)
    answer = run_node({"runs": [{"settings": as_json(s), "steps": 0} for s in settings]}, tmp_path)
    for s, js in zip(settings, answer["runs"]):
        d = run_code(s, 0)
        x_all = torch.cat((d["x_train"], d["x_test"])).numpy()
        y_all = torch.cat((d["y_train"], d["y_test"])).numpy()
        assert js["nTrain"] == len(d["x_train"]), s                         # the same split
        if pg.DATASETS[s.dataset].task == "classification":                # the same labels, in order
            np.testing.assert_array_equal(js["y"], y_all, err_msg=str(s))
        else:
            np.testing.assert_allclose(js["y"], y_all.ravel(), rtol=1e-6, atol=1e-6, err_msg=str(s))
        # the points to float32 rounding (PyTorch computes log, sin and cos in float32 for its normals)
        np.testing.assert_allclose(js["x"], x_all.ravel(), rtol=1e-6, atol=1e-6, err_msg=str(s))


def test_initial_weights_are_pytorchs_for_the_same_seed(tmp_path):
    """torch.manual_seed(seed); Net(...) and the browser's network from the same seed: equal, bit for bit."""
    pg = server_playground()
    settings = [pg.Settings(dataset="spiral", classes=c, features=tuple(pg.FEATURES)[:k], hidden=h, seed=seed,
                            points=100,
                            noise=0.1, batch_size=100)
                for c, k, h, seed in ((2, 2, (), 0), (3, 7, (16,) * 6, 1), (4, 3, (1, 5, 16), 2**31 - 1),
                                      (2, 5, (8, 8), 42))]
    answer = run_node({"runs": [{"settings": as_json(s), "steps": 0} for s in settings]}, tmp_path)
    for s, js in zip(settings, answer["runs"]):
        net = run_code(s, 0)["net"]
        for mine, theirs in zip(js["init"], net.parameters(), strict=True):
            np.testing.assert_array_equal(np.array(mine, np.float32), theirs.detach().numpy().ravel())


def test_the_browser_caps_a_big_networks_batch_as_the_server_does(tmp_path):
    pg = server_playground()
    base = replace(pg.PRESETS["classification"], dataset="gaussian", classes=4, points=1000, batch_size=1000)
    settings = [replace(base, hidden=hidden, features=features)
                for hidden in [(), (10,), (16,) * 3, (16,) * 6, (3, 16, 1)]
                for features in [("x1", "x2"), tuple(pg.FEATURES)]]
    answer = run_node({"runs": [{"settings": as_json(s), "steps": 0} for s in settings]}, tmp_path)
    caps = [js["batch_size"] for js in answer["runs"]]
    assert caps == [pg.usable(s).batch_size for s in settings]
    assert caps[0] == 1000 and min(caps) == pg.MAX_STEP_WORK // pg.weight_count(settings[7]) == 32


# Settings whose training is well conditioned (a step's rounding does not grow): the whole
# Playground in the browser (its data, initial weights, batch order, steps) follows the code the page shows.
RUNS = [("regression", 200), ("classification", 100)]


@pytest.mark.slow
def test_the_browser_playground_trains_as_the_shown_code(tmp_path, one_thread):
    pg = server_playground()
    runs = [(pg.PRESETS[name], n) for name, n in RUNS] + [
        (pg.Settings(dataset="bumps", noise=0.05, points=200, train_ratio=0.5, features=("x1", "x2"), hidden=(),
                     regularization="L1", reg_rate=0.01, optimizer="momentum", lr=0.01, batch_size=10), 200),
        (pg.Settings(dataset="circle", noise=0.2, points=300, train_ratio=0.7, features=("x1", "x2"), hidden=(6, 4),
                     activation="sigmoid", regularization="L2", reg_rate=0.001, optimizer="rmsprop", lr=0.01,
                     batch_size=16), 200),
        (pg.Settings(dataset="xor", noise=0.2, points=300, train_ratio=0.5, features=("x1", "x2", "x1*x2"),
                     hidden=(16,) * 6, optimizer="sgd", lr=0.03, batch_size=32, seed=4), 200),
        (pg.Settings(dataset="own-class", classes=3,
                     own=((-2.0, -2.0, 0), (-1.5, -2.5, 0), (2.0, 2.0, 1), (2.5, 1.0, 1),
                                                          (-2.0, 3.0, 2), (-1.0, 2.5, 2), (0.25, 0.75, 1)),
                     features=("x1", "x2"), hidden=(6,), train_ratio=0.7, optimizer="adam", lr=0.03,
                     batch_size=3), 60),
        (pg.Settings(dataset="own-curve", own=((-1.0, 1.0), (-0.5, 0.3), (0.0, 0.05), (0.5, 0.2), (1.0, 1.1)),
                     features=("x1", "x1^2"), hidden=(5,), activation="tanh", lr=0.05, batch_size=5), 100),
    ]
    answer = run_node({"runs": [{"settings": as_json(s), "steps": n} for s, n in runs]}, tmp_path)
    for (s, n), js in zip(runs, answer["runs"]):
        names = run_code(s, n)
        final = np.concatenate([q.detach().numpy().ravel() for q in names["net"].parameters()])
        last = evaluate(names)
        assert js["steps"] == n
        assert np.abs(np.concatenate([np.array(q) for q in js["final"]]) - final).max() <= 1e-5, s
        assert js["last"]["train"] == pytest.approx(last["train"], rel=1e-5), s
        if last["train_acc"] is not None:
            assert js["last"]["trainAcc"] == pytest.approx(last["train_acc"], abs=1e-6), s


# ------------------------------------------------------------------ the course's figures, in JavaScript
@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    return run_node({"presets": True}, tmp_path_factory.mktemp("presets"))["presets"]


def test_the_classification_preset_separates_the_two_clouds(presets):
    c = presets["classification"]
    assert c["steps"] == 100 and c["last"]["trainAcc"] >= 0.98          # as the course (and the server) do
    assert c["first"]["trainAcc"] < c["last"]["trainAcc"]


def test_the_regression_preset_fits_the_curve(presets):
    r = presets["regression"]
    assert r["steps"] == 200 and r["last"]["train"] < 0.01               # the course: MSE below 0.01
    assert r["first"]["train"] > 5 * r["last"]["train"]


def test_the_race_puts_adam_and_rmsprop_ahead_of_sgd(presets):
    race = presets["race"]
    assert race["steps"] == race["total"] == 384
    last = race["last50"]                       # the mean of each one's last 50 batch losses
    assert last["adam"] < last["sgd"] and last["rmsprop"] < last["sgd"] and last["momentum"] < last["sgd"], last
    for name, losses in race["losses"].items():
        assert np.mean(losses[-20:]) < np.mean(losses[:20]), name        # every one learned


def test_the_race_is_the_race_code_the_page_shows(presets, one_thread):
    pg = server_playground()
    import contextlib
    import io
    names = {"__name__": "race"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(pg.race_code(pg.RACE_STEPS), "race.py", "exec"), names)
    for name, losses in zip(pg.RACE_NAMES, names["losses_his"]):
        js = np.array(presets["race"]["losses"][name])
        assert np.max(np.abs(js - losses) / np.abs(losses)) <= LOSS_RTOL, name
