"""The shipped weights: each checkpoint in checkpoints/ loads, reproduces the test accuracy written
in its metrics JSON (an oracle for the whole load -> preprocess -> predict path), and the best model
of each data set meets the target the README promises."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import torch

from cnnlab.core import checkpoints, datasets
from cnnlab.core.inference import AsAnswered
from cnnlab.core.training import evaluate

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = sorted(CHECKPOINT_DIR.glob("*.pt"))
# The issues' goals for the best shipped model of each data set (issue 28: the flowers, on the real
# photos, 95%), and the floors the shipped weights reach today: a regression below a floor fails,
# and a goal not reached yet is a strict expected failure at the goal's own figure.
GOALS = {"mnist": 0.993, "fashion": 0.925, "flowers5": 0.95}
FLOORS = {"mnist": 0.993, "fashion": 0.925, "flowers5": 0.951}     # flowers: 95.15% (README)
REACHED = {"mnist", "fashion", "flowers5"}
HANDS_GOAL = 0.97            # issue 31: digits in many hands (cnnlab.core.hands.test_set)
HANDS_FLOOR = 0.975          # 98.17% (README)
MAX_FOLDER_BYTES = 30 * 1024 * 1024

# Scored with torch's own threads (both cores): the flower model's 866 photos, two views each, took
# 70 s of the suite on one thread.


@functools.cache
def measured(path: Path) -> tuple[checkpoints.Loaded, float]:
    """Load a shipped checkpoint and measure its accuracy on the official test split (once)."""
    loaded = checkpoints.load(path)
    test = datasets.load(loaded.dataset, "test")
    batch = 8 if loaded.channels == 3 else 1000         # small photo batches: far less time in malloc
    model = AsAnswered(loaded)                          # as the app answers (mirror averaging included)
    return loaded, evaluate(model, test, torch.device("cpu"), batch_size=batch)["accuracy"]


def test_checkpoints_are_shipped():
    assert SHIPPED, f"no checkpoints in {CHECKPOINT_DIR}: make them with the commands in the README"


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_reproduces_its_recorded_accuracy(path, data_root, request):
    if checkpoints.read_payload(path)["dataset"] == "flowers5":
        request.getfixturevalue("flowers_root")              # skipped, saying why, without the photos
    metrics_file = checkpoints.metrics_path(path)
    assert metrics_file.is_file(), f"{path.name} has no {metrics_file.name}: run `python -m cnnlab evaluate {path}`"
    recorded = json.loads(metrics_file.read_text())
    loaded, accuracy = measured(path)
    assert recorded["test_images"] == len(datasets.load(loaded.dataset, "test"))
    assert list(recorded["per_class_accuracy"]) == list(loaded.classes)
    assert loaded.metrics["test_accuracy"] == recorded["test_accuracy"], "the JSON and the checkpoint agree"
    assert abs(accuracy - recorded["test_accuracy"]) <= 0.001, (
        f"{path.name}: measured {accuracy:.4%}, recorded {recorded['test_accuracy']:.4%}")


def best_of(dataset: str, request) -> tuple[float, str]:
    if dataset == "flowers5":
        request.getfixturevalue("flowers_root")
    mine = [p for p in SHIPPED if checkpoints.read_payload(p)["dataset"] == dataset]
    assert mine, f"no shipped checkpoint for {dataset}"
    return max((measured(p)[1], p.name) for p in mine)


@pytest.mark.slow
@pytest.mark.parametrize("dataset", list(FLOORS))
def test_best_shipped_model_holds_its_floor(dataset, data_root, request):
    best = best_of(dataset, request)
    assert best[0] >= FLOORS[dataset], f"best {dataset} model {best[1]}: {best[0]:.2%} < {FLOORS[dataset]:.2%}"


@pytest.mark.slow
@pytest.mark.parametrize("dataset", [d if d in REACHED else pytest.param(
    d, marks=pytest.mark.xfail(strict=True, reason=f"goal {GOALS[d]:.0%} not reached yet (README, Known limits)"))
    for d in GOALS])
def test_best_shipped_model_meets_the_goal(dataset, data_root, request):
    best = best_of(dataset, request)
    assert best[0] >= GOALS[dataset], f"best {dataset} model {best[1]}: {best[0]:.2%} < {GOALS[dataset]:.1%}"


@functools.cache
def hands_accuracy() -> float:
    """The shipped Draw model on the 600 drawings in many hands, through the app's preprocessing."""
    from cnnlab.core import hands
    images, labels, _ = hands.test_set()
    loaded = checkpoints.load(CHECKPOINT_DIR / "mnist-cnn.pt")
    with torch.no_grad():
        answers = AsAnswered(loaded)(datasets.normalize(images, loaded.spec)).argmax(1)
    return (answers == labels).float().mean().item()


@pytest.mark.slow
@pytest.mark.parametrize("figure", [HANDS_FLOOR, HANDS_GOAL if HANDS_FLOOR >= HANDS_GOAL else pytest.param(
    HANDS_GOAL, marks=pytest.mark.xfail(strict=True, reason="goal not reached yet (README)"))], ids=["floor", "goal"])
def test_the_draw_model_reads_many_hands(figure):
    """Issue 31: flagged and footed 1s, crossed 7s, closed 4s, small-loop 9s, thick pens, drawn by
    cnnlab.core.hands (never trained on), through the app's preprocessing."""
    accuracy = hands_accuracy()
    assert accuracy >= figure, f"{accuracy:.2%} < {figure:.2%}"


def test_checkpoint_folder_is_small_enough_for_git():
    size = sum(p.stat().st_size for p in CHECKPOINT_DIR.rglob("*") if p.is_file())
    assert size < MAX_FOLDER_BYTES, f"checkpoints/ holds {size / 2**20:.1f} MB (limit 30 MB)"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_every_shipped_checkpoint_carries_a_fitted_temperature(path):
    """Issue 19: confidence that means what it says. `python -m cnnlab calibrate` fitted it on
    images the model never trained on and checked it on others (bench/trust.py re-measures)."""
    loaded = checkpoints.load(path)
    c = loaded.metrics.get("calibration")
    assert c, f"{path.name} has no temperature: run `python -m cnnlab calibrate {path}`"
    assert loaded.temperature == pytest.approx(c["temperature"]) and 0.2 < loaded.temperature < 5
    assert c["fitted_on"] >= 300 and c["reported_on"] >= 400      # one number: a tenth of flowers5's 3,445 is plenty
    assert c["ece_after"] <= c["ece_before"] + 0.002 and c["ece_after"] < 0.05


def test_the_flower_model_stays_honest():
    """Issue 28: calibrated on the test split (ECE <= 3% on the half it was not fitted on), and its
    "unlike anything I learned" check calls at most 3% of the 866 real test flowers unfamiliar
    (bench/trust.py measures the non-flowers: README)."""
    loaded = checkpoints.load(CHECKPOINT_DIR / "flowers5-transfer.pt")
    assert loaded.mirror and loaded.metrics["calibration"]["ece_after"] <= 0.03
    novel = loaded.metrics["novelty"]
    assert loaded.novelty is not None and novel["unfamiliar_share"] <= 0.03 and novel["reported_on"] == 866


@pytest.mark.slow
def test_the_flower_model_calls_what_is_no_flower_unfamiliar(data_root):
    """Issue 28: of bench/trustdata.py's 160 photos with no flower (the temple and its crops,
    clothes, digits and clothes shown as photos, noise, gradients, shapes, stripes, text), its
    "unlike anything I learned" check calls at least 95% unfamiliar (the probabilities aside)."""
    import sys
    sys.path.insert(0, str(CHECKPOINT_DIR.parent / "bench"))
    import trustdata

    from cnnlab.core import novelty
    from cnnlab.core.preprocess import prepare_for
    loaded = checkpoints.load(CHECKPOINT_DIR / "flowers5-transfer.pt")
    others = trustdata.non_flowers(data_root=data_root)
    x = torch.cat([prepare_for(loaded, image).tensor for image, _ in others])
    with torch.no_grad():
        strange = torch.cat([loaded.novelty.strangeness(novelty.features_for(loaded.novelty, loaded.model, part))
                             for part in x.split(32)])
    unfamiliar = (strange > 1).float().mean().item()
    assert len(others) == 160 and unfamiliar >= 0.95, f"{unfamiliar:.1%} of {len(others)} called unfamiliar"
