"""The Train tab's hyperparameter grid and compare table through the API, as a teacher's script
meets them: a grid too big or too long is refused with the sentence naming the bound and nothing
starts; a small grid runs as the class's shared run, its table in /train_snapshot, and every
configuration lands in the lesson's runs."""
from __future__ import annotations

import pytest
from gradio_client.exceptions import AppError
from rungate import RunGate

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
    # Held inside the second configuration (the first trains at most 4 batches of 256 of the 1,000
    # images): the table must show the first done and the second training, however fast it runs.
    with RunGate(idle_job, hold=[6]) as gate:
        message = client.predict(**GRID, api_name="/train_grid")
        assert "Hyperparameter grid on MNIST digits started" in message
        gate.wait_held()
        live = client.predict(api_name="/train_snapshot")
        gate.release()
    assert [r["state"] for r in live["sweep"]] == ["done", "training"]       # the table fills in while it runs
    assert idle_job.wait(600)
    snap = client.predict(api_name="/train_snapshot")
    assert snap["mode"] == "sweep" and snap["state"] == "finished"
    assert [r["state"] for r in snap["sweep"]] == ["done", "done"]
    assert [r["lr"] for r in snap["sweep"]] == [0.003, 0.0003]
    assert all(0 < r["test_accuracy"] <= 1 and r["test_images"] == 10_000 for r in snap["sweep"])
    runs = index.runs()[kept:]
    assert [r.settings["lr"] for r in runs] == [0.003, 0.0003]
    assert {r.group for r in runs} == {f"grid {snap['sweep_id']}"}
