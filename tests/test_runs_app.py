"""The Train tab's hyperparameter grid and compare table through the API, as a teacher's script
meets them: a grid too big or too long is refused with the sentence naming the bound and nothing
starts; a small grid runs as the class's shared run, its table in /train_snapshot, and every
configuration lands in the lesson's runs."""
from __future__ import annotations

import time

import pytest
from gradio_client.exceptions import AppError

GRID = dict(dataset="mnist", epochs=1, train_size=1000, learning_rates="0.003, 0.0003", batch_sizes="256",
            optimizers=["adam"], models=["mlp"], seconds=60)


@pytest.mark.parametrize("changed, sentence", [
    (dict(learning_rates="0.1 0.01 0.001", batch_sizes="32, 64", optimizers=["sgd", "adam"], models=["mlp"]),
     "12 configurations (3 x 2 x 2 x 1) is more than the 12"),
    (dict(seconds=5000), "Grid time budget must be between 30 and 900 seconds; you asked for 5,000."),
    (dict(learning_rates="fast"), "Learning rate must be numbers separated by commas"),
    (dict(batch_sizes="4096"), "Batch size must be between 1 and 1,024; you asked for 4,096."),
    (dict(models=["transfer"]), "Model must be one of: mlp, cnn"),
    (dict(optimizers=[]), "The grid needs at least one optimizer."),
    (dict(dataset="flowers5", models=["transfer"]), "MNIST or Fashion-MNIST"),
    (dict(epochs=50), "Epochs must be between 1 and 20"),
])
def test_a_grid_out_of_bounds_gets_a_sentence_and_nothing_starts(client, idle_job, changed, sentence):
    if "12 configurations" in sentence:         # 3 x 2 x 2 = 12 fits; one more learning rate does not
        changed = {**changed, "learning_rates": "0.1 0.01 0.001 0.0001"}
        sentence = "16 configurations (4 x 2 x 2 x 1) is more than the 12"
    before = client.predict(api_name="/train_snapshot")["run_id"]
    with pytest.raises(AppError) as err:
        client.predict(**{**GRID, **changed}, api_name="/train_grid")
    assert sentence in str(err.value)
    assert client.predict(api_name="/train_snapshot")["run_id"] == before


def test_a_grid_runs_as_the_shared_run_and_its_runs_are_kept(app_server, client, idle_job):
    index = app_server[0].ctx.runs
    kept = len(index.runs())
    message = client.predict(**GRID, api_name="/train_grid")
    assert "Hyperparameter grid on MNIST digits started" in message
    seen_live = None
    deadline = time.time() + 600
    while time.time() < deadline:
        snap = client.predict(api_name="/train_snapshot")
        states = [r["state"] for r in snap["sweep"]]
        if states[:2] == ["done", "training"]:
            seen_live = states
        if not snap["running"]:
            break
        time.sleep(0.3)
    assert snap["mode"] == "sweep" and snap["state"] == "finished"
    assert [r["state"] for r in snap["sweep"]] == ["done", "done"]
    assert [r["lr"] for r in snap["sweep"]] == [0.003, 0.0003]
    assert all(0 < r["test_accuracy"] <= 1 and r["test_images"] == 10_000 for r in snap["sweep"])
    assert seen_live is not None                                    # the table filled in while it ran
    runs = index.runs()[kept:]
    assert [r.settings["lr"] for r in runs] == [0.003, 0.0003]
    assert {r.group for r in runs} == {f"grid {snap['sweep_id']}"}
