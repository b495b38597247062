"""The Train tab through its API (gradio_client), as a second laptop in the class would use it:
start a short shared run, watch it through the snapshot API until it finishes, a second start is
refused, Stop ends a run, and a bad checkpoint upload gets a clear message."""
from __future__ import annotations

import time

import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from rungate import RunGate

from cnnlab.config import TrainConfig

# dataset, model, optimizer, lr, batch size, epochs, time budget (s), training images, augment, key
SHORT = ["mnist", "cnn", "adam", 0.003, 128, 1, 0, 2000, False, ""]
LONG = ["mnist", "cnn", "adam", 0.003, 128, 5, 0, 5000, False, ""]


def poll(client, until, timeout=600.0, every=0.3):
    """Snapshots until ``until(snapshot)`` holds; returns them all."""
    seen, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        snap = client.predict(api_name="/train_snapshot")
        seen.append(snap)
        if until(snap):
            return seen
        time.sleep(every)
    raise AssertionError(f"timed out; last status: {seen[-1]['status'] if seen else None}")


def test_a_short_run_streams_its_curves_and_finishes(client, idle_job):
    with RunGate(idle_job, hold=[2, 3, 4, 5]) as gate:
        message = client.predict(*SHORT, api_name="/train_start")
        assert "started" in message
        gate.release_pointwise(3, TrainConfig().event_every_s)    # batches 2-4: a loss point each
        gate.wait_held()                                          # held before batch 5
        held = client.predict(api_name="/train_snapshot")        # what a viewer sees mid-run
        gate.release()
        snaps = [held] + poll(client, lambda s: not s["running"])
    assert held["running"] and held["step"] == 4 and len(held["loss"]) >= 3
    assert "pictures/s" in held["status"]
    sizes = [len(s["loss"]) for s in snaps]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]       # the curve grew while we watched
    last = snaps[-1]
    assert last["state"] == "finished" and last["status"].startswith("Finished")
    assert "test accuracy" in last["status"] and last["results"]["test_accuracy"] > 0.5
    assert len(last["accuracy"]) >= 1 and last["grid"]["predictions"] is not None
    assert last["latest"] and last["latest"].endswith("latest.pt")


def test_a_second_start_is_refused_and_stop_ends_the_run(client, idle_job):
    with RunGate(idle_job, hold=[2]) as gate:
        assert "started" in client.predict(*LONG, api_name="/train_start")
        gate.wait_held()                                          # it cannot end before Stop
        refused = client.predict(*SHORT, api_name="/train_start")
        assert "already in progress" in refused and "watching" in refused
        assert "already in progress" in client.predict(*SHORT, api_name="/train_race")
        run_id = client.predict(api_name="/train_snapshot")["run_id"]
        assert "Stopping" in client.predict("", api_name="/train_stop")
        gate.release()
        snaps = poll(client, lambda s: not s["running"], every=0.1)
    last = snaps[-1]
    assert last["run_id"] == run_id and last["state"] == "stopped" and last["status"].startswith("Stopped")
    assert last["step"] == 2 < last["total_steps"] and last["results"]["stopped"]   # the batch under way
    assert "No run" in client.predict("", api_name="/train_stop")


def test_a_bad_checkpoint_upload_gets_a_clear_message(client, idle_job, tmp_path):
    bad = tmp_path / "homework.pt"
    bad.write_bytes(b"definitely not weights")
    with pytest.raises(AppError, match=r"homework\.pt .*not a .*checkpoint"):
        client.predict(handle_file(str(bad)), "", api_name="/train_upload_checkpoint")
