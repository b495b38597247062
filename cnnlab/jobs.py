"""The one shared training job: the teacher starts it, every screen watches the same run.

``TrainJob`` owns one background thread at a time. ``start`` trains with ``training.fit``,
``start_race`` runs ``race.race`` (four optimizers on the same batches), ``stop`` sets a
``threading.Event`` that the loop checks between batches, and ``state`` gives any viewer (however
late it joins) the whole run so far as plain rows. A finished or stopped run is saved to
``<runs_dir>/latest.pt`` and published as the zoo's "latest run" for the other tabs. Subscribers
(``subscribe``) are called in the training thread with every event of a normal run.

The training thread takes the cores at a lower priority than the students' requests
(``threads.configure_training_thread``).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from . import checkpoints, datasets, training
from .classroom import TeacherKey
from .config import TrainConfig, train_problem
from .models import build_model, trunk_frozen
from .race import RACE_STEPS, race
from .runstate import Grid, RunState, as_pictures, grid_indices, most_confident_mistakes, progress_line, thin
from .steer import Steering, check_lr
from .threads import REQUEST_THREADS, THREAD_POLICIES, configure_training_thread, set_default_threads
from .training import TrainEvent, eval_mode

log = logging.getLogger(__name__)

Subscriber = Callable[[TrainEvent, nn.Module, TrainConfig], None]


# --------------------------------------------------------------------------- the job
class TrainJob:
    """The shared run. Thread-safe; every public method returns quickly."""

    def __init__(self, zoo, runs_dir: str | Path, data_root=None, download: bool = False,
                 teacher: TeacherKey | None = None, thread_policy: str = "nice",
                 request_threads: int | None = REQUEST_THREADS):
        """``zoo`` receives every finished run as its "latest" model; ``teacher`` guards the
        actions; ``request_threads``: torch threads for every thread created from now on (None:
        leave PyTorch's default); ``thread_policy``: how the training thread runs."""
        if thread_policy not in THREAD_POLICIES:
            raise ValueError(f"thread policy must be one of {', '.join(THREAD_POLICIES)}")
        self.zoo, self.runs_dir, self.data_root, self.download = zoo, Path(runs_dir), data_root, download
        self.teacher = teacher or TeacherKey()
        self.thread_policy = thread_policy
        if request_threads:
            set_default_threads(request_threads)
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._steering = Steering()
        self._thread: threading.Thread | None = None
        self._state = RunState()
        self._loss: list[tuple] = []
        self._acc: list[tuple] = []
        self._race: list[tuple] = []
        self._last_train_epoch = None
        self._rows_version = -1
        if self.latest_path.is_file():
            self._state = replace(self._state, latest=str(self.latest_path))

    # ---- what viewers call
    @property
    def latest_path(self) -> Path:
        return self.runs_dir / "latest.pt"

    @property
    def is_running(self) -> bool:
        with self._lock:
            return self._state.running

    def state(self) -> RunState:
        """The run so far; the same object for every viewer until something changes."""
        with self._lock:
            if self._rows_version != self._state.version:
                self._state = replace(self._state, loss=tuple(thin(self._loss)), accuracy=tuple(thin(self._acc)),
                                      race=tuple(thin(self._race)),
                                      markers=tuple((m.epoch, m.old_lr, m.new_lr) for m in self._steering.markers))
                self._rows_version = self._state.version
            return self._state

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber(event, model, config)`` in the training thread on every event of a
        normal run ("start", "step", "eval", "done"). It must be quick; its errors are logged and
        never end the run."""
        with self._lock:
            if subscriber not in self._subscribers:
                self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    # ---- what the teacher calls
    def start(self, config: TrainConfig, key: str | None = None) -> str:
        """Start a run, or say why not (a run is going, wrong key, settings that do not fit)."""
        problem = self._check(config, key)
        if problem:
            return problem
        return self._launch("train", config, self._run_training)

    def start_race(self, config: TrainConfig, key: str | None = None) -> str:
        """The optimizer race (see ``race.race``) with ``config``'s data set, model and batch size."""
        problem = self._check(config, key)
        if problem:
            return problem
        if datasets.get_spec(config.dataset).kind == "photo":
            return ("The optimizer race runs on MNIST or Fashion-MNIST (photos would take minutes); "
                    "choose one of those.")
        return self._launch("race", config, self._run_race)

    def stop(self, key: str | None = None) -> str:
        if not self.teacher.accepts(key):
            return "Stopping the run needs the teacher key: type it in the teacher key box."
        with self._lock:
            if not self._state.running:
                return "No run is going."
            self._stop.set()
            self._steering.resume()                              # a paused run wakes up to stop
            if self._state.state in ("running", "paused"):
                self._set(state="stopping", status="Stopping after this batch…")
        return "Stopping: the model so far is kept."

    # ---- steering a training run (the loop's between_batches hook, see steer.py)
    def pause(self, key: str | None = None) -> str:
        problem = self._steerable(key, "Pausing")
        if problem:
            return problem
        with self._lock:
            if self._state.state != "running":
                return "The run is already paused." if self._state.state == "paused" else "The run is ending."
            self._steering.pause()
            self._set(state="paused", status=f"Paused at step {self._state.step:,} of "
                                             f"{self._state.total_steps:,}: click Resume to go on.")
        return "Paused after this batch. Everyone sees the model as it is now."

    def resume(self, key: str | None = None) -> str:
        problem = self._steerable(key, "Resuming")
        if problem:
            return problem
        with self._lock:
            if self._state.state != "paused":
                return "The run is not paused."
            self._steering.resume()
            self._set(state="running", status="Resumed: training goes on…")
        return "Resumed."

    def set_lr(self, lr, key: str | None = None) -> str:
        """A new learning rate from the next batch on, for the rest of the run (the schedule stops)."""
        problem = self._steerable(key, "Changing the learning rate") or check_lr(lr)
        if problem:
            return problem
        self._steering.request_lr(float(lr))
        return (f"The learning rate becomes {float(lr):g} from the next batch on (and stays there: the "
                "schedule is switched off). The change is marked on the loss curve.")

    def _steerable(self, key: str | None, what: str) -> str | None:
        if not self.teacher.accepts(key):
            return f"{what} needs the teacher key: type it in the teacher key box."
        with self._lock:
            if not self._state.running:
                return "No run is going."
            if self._state.mode != "train":
                return "Only a training run can be paused or steered (not the optimizer race)."
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run has ended (tests, scripts); True if nothing is running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.is_running

    def use_checkpoint(self, path: str | Path, key: str | None = None) -> str:
        """Make an uploaded checkpoint the latest run. Raises CheckpointError for a bad file."""
        if not self.teacher.accepts(key):
            return "Loading a checkpoint for everyone needs the teacher key: type it in the teacher key box."
        if self.is_running:
            return "A run is going: load the checkpoint once it has finished or been stopped."
        payload = checkpoints.read_payload(path)
        loaded = checkpoints.from_payload(payload, str(path))   # refuse before replacing anything
        saved = checkpoints.save_payload(self.latest_path, payload)
        self.zoo.set_latest(replace(loaded, path=str(saved)), label="uploaded")
        acc = loaded.metrics.get("test_accuracy")
        text = (f"Loaded {Path(path).name}: {loaded.model_name} on {loaded.spec.title}"
                + (f" ({acc:.1%} test accuracy)" if acc else "")
                + ". The Draw, Photo and t-SNE tabs can use it as 'latest run'.")
        with self._lock:
            self._set(latest=str(saved), status=text)
        return text

    # ---- internals
    def _check(self, config: TrainConfig, key: str | None) -> str | None:
        if not self.teacher.accepts(key):
            return "Training needs the teacher key: type it in the teacher key box."
        if self.is_running:
            return f"A run is already in progress; you are watching it. ({self.state().status})"
        return train_problem(config)

    def _launch(self, mode: str, config: TrainConfig, target) -> str:
        with self._lock:
            if self._state.running:                              # lost a race with another click
                return f"A run is already in progress; you are watching it. ({self._state.status})"
            self._stop.clear()
            self._steering = Steering()
            self._loss, self._acc, self._race = [], [], []
            self._last_train_epoch = None
            run_id = self._state.run_id + 1
            spec = datasets.get_spec(config.dataset)
            what = ("Optimizer race" if mode == "race" else f"Training {config.model}") + f" on {spec.title}"
            self._state = RunState(version=self._state.version + 1, run_id=run_id, mode=mode,
                                   state="running", status=f"{what}: loading the data…",
                                   config=config.to_dict(), epochs=config.epochs, latest=self._state.latest)
            self._thread = threading.Thread(target=self._guarded, args=(target, config, run_id),
                                            name=f"cnnlab-{mode}-{run_id}", daemon=True)
            self._thread.start()
        return f"{what} started. Everyone sees it live."

    def _set(self, **changes) -> None:
        """Change the state (caller holds the lock)."""
        self._state = replace(self._state, version=self._state.version + 1, **changes)

    def _guarded(self, target, config: TrainConfig, run_id: int) -> None:
        configure_training_thread(self.thread_policy)
        try:
            target(config, run_id)
        except Exception as err:                                 # the thread must never die silently
            log.exception("training run %s failed", run_id)
            message = err.args[0] if isinstance(err, (datasets.DataMissingError, KeyError, ValueError)) \
                and err.args else f"{type(err).__name__}: {err}"
            with self._lock:
                self._set(state="failed", status=f"The run failed: {message}")
        finally:
            with self._lock:
                if self._state.running:                          # a path that did not set an end
                    self._set(state="stopped", status="The run ended.")

    def _notify(self, event: TrainEvent, model: nn.Module, config: TrainConfig) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event, model, config)
            except Exception:                                    # a viewer's add-on must not end the run
                log.exception("training subscriber %r failed on %s", subscriber, event.kind)

    # ---- a normal run
    def _run_training(self, config: TrainConfig, run_id: int) -> None:
        root, download = self.data_root, self.download
        spec = datasets.get_spec(config.dataset)
        test = datasets.load(config.dataset, "test", root, download)
        idx = grid_indices(test.labels, spec.num_classes)
        grid_x = datasets.normalize(test.images[idx], spec)
        grid = Grid(as_pictures(test.images[idx]), test.labels[idx].tolist(), spec.classes)
        training.seed_everything(config.seed)                    # same seed, same initial weights
        model = build_model(config.model, spec, finetune=config.finetune, layers=config.layers)
        grid_features = None
        title = f"{config.model} on {spec.title} with {config.optimizer}"
        with self._lock:
            self._set(grid=grid, status=f"Training {title}: starting…")
        for ev in training.fit(config, root=root, stop=self._stop, model=model, download=download,
                               final_eval=False, hooks=training.Hooks(between_batches=self._steering)):
            if ev.kind == "done":
                self._finish_training(ev, model, config, test, title)
                return
            if ev.kind == "start" and trunk_frozen(model):
                grid_features = self._grid_features(model, grid_x)
            grid = self._predict_grid(model, grid, grid_x, grid_features)
            self._record(ev, config, grid, title)
            self._notify(ev, model, config)

    @staticmethod
    @torch.no_grad()
    def _grid_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """A frozen trunk's output for the 16 images, computed once per run."""
        with eval_mode(model):
            return model.trunk(x.to(next(model.parameters()).device))

    @staticmethod
    @torch.no_grad()
    def _predict_grid(model: nn.Module, grid: Grid, x: torch.Tensor, features) -> Grid:
        """The model's guesses for the 16 images (a few ms)."""
        with eval_mode(model):
            device = next(model.parameters()).device
            logits = model.learner()(features) if features is not None else model(x.to(device))
            conf, pred = logits.softmax(1).max(1)
        return replace(grid, predictions=pred.cpu().tolist(), confidences=conf.cpu().tolist())

    def _record(self, ev: TrainEvent, config: TrainConfig, grid: Grid, title: str) -> None:
        eta = ev.eta_s
        if config.time_budget_s and eta is not None:
            eta = min(eta, max(0.0, config.time_budget_s - ev.elapsed_s))
        with self._lock:
            if ev.train_loss is not None and ev.step and ev.epoch != self._last_train_epoch:
                self._loss.append((ev.epoch, ev.train_loss, "train loss"))
                self._last_train_epoch = ev.epoch
            evals = self._state.evals
            if ev.kind == "eval" and ev.val_acc is not None:
                self._loss.append((ev.epoch, ev.val_loss, "validation loss"))
                self._acc.append((ev.epoch, ev.val_acc, "validation accuracy"))
                evals = evals + ({"seconds": round(ev.elapsed_s, 2), "epoch": round(ev.epoch, 3),
                                  "val_loss": ev.val_loss, "val_acc": ev.val_acc},)
            state = self._state.state
            if state == "stopping":
                status = "Stopping after this batch…"
            elif state == "paused":
                status = self._state.status
            elif ev.message and not ev.step:
                status = f"{ev.message[:1].upper()}{ev.message[1:]}…"
            else:
                status = progress_line(title, ev, config, eta, grid)
            self._set(step=ev.step, total_steps=ev.total_steps, epoch=ev.epoch, elapsed_s=ev.elapsed_s,
                      images_per_s=ev.images_per_s, eta_s=eta, val_acc=ev.val_acc, evals=evals,
                      grid=grid, status=status)

    def _finish_training(self, ev: TrainEvent, model: nn.Module, config: TrainConfig,
                         test: datasets.TensorData, title: str) -> None:
        """Final evaluation, checkpoint, publish as 'latest', tell the subscribers, show results.

        After a Stop the test set is the validation subset (a fraction of a second), so a stopped
        run settles at once; a finished run (or one ended by its time budget) uses the whole set.
        The validation curves get their last point here, at the very end of the training.
        """
        user_stop = self._stop.is_set()
        with self._lock:
            self._set(status=f"{'Stopped' if user_stop else 'Finished'} training {title}: "
                             "measuring test accuracy and saving…")
        val_n = min(config.val_size or len(test), len(test))
        scored_n = val_n if user_stop else 0
        photos_read = ev.step > 0 or not trunk_frozen(model)     # else a frozen trunk has no features yet
        so_far = {"steps": ev.step, "epochs": round(ev.epoch, 3), "train_seconds": round(ev.elapsed_s, 1),
                  "stopped": bool(ev.stopped)}
        path, metrics, r = training.evaluate_and_save(self.latest_path, model, config,
                                                      test if photos_read else None, scored_n, so_far)
        data = test.subset(scored_n)
        if r is not None and (not self._state.evals or self._state.evals[-1]["epoch"] < round(ev.epoch, 3)):
            rv = r if len(data) == val_n else training.test_model(model, test, val_n)
            self._record(replace(ev, kind="eval", val_loss=rv["loss"], val_acc=rv["accuracy"]), config,
                         self._state.grid, title)
        results = {"stopped": bool(ev.stopped), "steps": ev.step, "seconds": round(ev.elapsed_s, 1),
                   "classes": list(data.spec.classes)}
        if r is not None:
            results.update(test_accuracy=metrics["test_accuracy"], test_images=metrics["test_images"],
                           confusion_matrix=metrics["confusion_matrix"],
                           mistakes=most_confident_mistakes(data, r["predictions"], r["confidences"]))
            if "calibration" in metrics:        # the reliability diagram (cnnlab.plots.reliability_figure)
                results["calibration"] = metrics["calibration"]
        self.zoo.set_latest(checkpoints.load(path))
        self._notify(replace(ev, model=model, metrics=metrics), model, config)
        how = "Stopped" if ev.stopped else "Finished"
        acc = ""
        if "test_accuracy" in results:
            on = "" if results["test_images"] == len(test) else f" on {results['test_images']:,} test images"
            acc = f": test accuracy {results['test_accuracy']:.1%}{on}"
        text = (f"{how} after {ev.step:,} steps ({ev.elapsed_s:.0f} s){acc}. "
                "The other tabs can now use it as 'latest run'.")
        with self._lock:
            self._set(state="stopped" if ev.stopped else "finished", status=text, results=results,
                      latest=str(path), eta_s=None, step=ev.step, epoch=ev.epoch, elapsed_s=ev.elapsed_s)

    # ---- the optimizer race
    def _run_race(self, config: TrainConfig, run_id: int) -> None:
        what = f"Optimizer race: {config.model} on {datasets.get_spec(config.dataset).title}"
        last_status = -1.0
        ev = None
        for ev in race(config, self.data_root, self._stop, self.download):
            if ev.kind == "start":
                with self._lock:
                    self._set(total_steps=RACE_STEPS, status=f"{what}: starting…")
                continue
            with self._lock:
                self._race.extend((ev.step, loss, lane) for lane, loss in ev.losses.items())
                if ev.kind != "done" and ev.elapsed_s - last_status < config.event_every_s:
                    self._set()                                  # new points only
                    continue
                last_status = ev.elapsed_s
                left = ev.eta_s or 0.0
                status = self._state.status if self._state.state == "stopping" else (
                    f"{what} · step {ev.step}/{RACE_STEPS} · "
                    + " · ".join(f"{lane.split()[0]} {loss:.3f}" for lane, loss in ev.losses.items())
                    + f" · about {left:.0f} s left")
                self._set(step=ev.step, epoch=ev.epoch, elapsed_s=ev.elapsed_s, images_per_s=ev.images_per_s,
                          eta_s=left, status=status)
        finals = ev.metrics["race"]
        stopped = self._stop.is_set()
        table = ", ".join(f"{f['optimizer']} {f['val_accuracy']:.1%}" for f in finals)
        text = (f"Optimizer race {'stopped' if stopped else 'finished'} after {ev.step} steps "
                f"({ev.elapsed_s:.0f} s). Validation accuracy: {table}.")
        with self._lock:
            self._set(state="stopped" if stopped else "finished", status=text, eta_s=None,
                      results={"race": finals, "stopped": stopped, "steps": ev.step})
