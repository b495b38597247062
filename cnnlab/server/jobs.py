"""The one shared training job: the teacher starts it, every screen watches the same run.

``TrainJob`` runs one task at a time in the background (``core.background``). ``start`` trains with
``training.fit``, ``start_race`` runs ``race.race`` (four optimizers on the same batches), ``stop``
sets the task's ``Stop``, which the loop checks between batches, and ``state`` gives any viewer (however
late it joins) the whole run so far as plain rows. Every sentence (answers, the status line) is a
``cnnlab.i18n.Text``: each viewer's page renders it in that viewer's language; ``str()`` is English.
A finished or stopped run is saved to ``<runs_dir>/latest.pt`` and published as the zoo's "latest
run" for the other tabs. Subscribers (``subscribe``) are called in the training thread with every event of a normal run.

The training thread takes the cores at a lower priority than the students' requests
(``threads.configure_training_thread``).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from torch import nn

from ..config import TrainConfig
from ..core import checkpoints, datasets, finish, sweep, training
from ..core.background import Background, Stop
from ..core.checks import train_problem
from ..core.nets.models import build_model, trunk_frozen
from ..core.race import RACE_STEPS, race
from ..core.steer import Steering, check_lr
from ..core.threads import REQUEST_THREADS, THREAD_POLICIES, configure_training_thread, set_default_threads
from ..core.training import TrainEvent
from ..i18n import Text
from .classroom import TeacherKey
from .longpoll import Bell
from .runstate import (
    Grid,
    RunState,
    as_pictures,
    grid_features,
    grid_indices,
    most_confident_mistakes,
    predict_grid,
    progress_line,
    thin,
)

log = logging.getLogger(__name__)

Subscriber = Callable[[TrainEvent, nn.Module, TrainConfig], None]


def listed(items: list) -> Text | str:
    """"a, b, c" in the reader's language ("a，b，c" in Chinese), as nested Texts."""
    out = items[-1] if items else ""
    for item in reversed(items[:-1]):
        out = Text("jobs.list", first=item, rest=out)
    return out


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
        self._work = Background("cnnlab-train", setup=lambda: configure_training_thread(self.thread_policy))
        self._steering = Steering()
        self._state = RunState()
        self._bell = Bell()                     # wakes the pages waiting for a change (long polls)
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

    async def wait_for_change(self, version: int, timeout: float) -> None:
        """Return when the run is no longer at ``version`` (at once if it is not), or after
        ``timeout`` seconds: a page's long poll (cnnlab/ui/train_feed.py)."""
        await self._bell.wait(lambda: self._state.version != version, timeout)

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
    def start(self, config: TrainConfig, key: str | None = None) -> Text:
        """Start a run, or say why not (a run is going, wrong key, settings that do not fit)."""
        problem = self._check(config, key)
        if problem:
            return problem
        return self._launch("train", config, self._run_training)

    def start_race(self, config: TrainConfig, key: str | None = None) -> Text:
        """The optimizer race (see ``race.race``) with ``config``'s data set, model and batch size."""
        problem = self._check(config, key)
        if problem:
            return problem
        if datasets.get_spec(config.dataset).kind == "photo":
            return Text("jobs.race_photos")
        return self._launch("race", config, self._run_race)

    def start_sweep(self, plan, key: str | None = None) -> str | Text:
        """A hyperparameter grid (``sweep.plan``): its configurations one after the other as one
        shared run; the table (``RunState.sweep``) fills in as each ends. Stop ends the grid."""
        problem = self._check(plan.configs[0], key)
        if problem:
            return problem
        return self._launch("sweep", plan.configs[0], lambda config, run_id: self._run_sweep(plan, run_id))

    def start_own(self, run, key: str | None = None) -> str | Text:
        """Train the class's own classes (an ``ownmodel.OwnRun``: a small head on the pictures'
        cached backbone features, trained by the one loop) as the shared run everyone watches."""
        self.teacher.require(key, Text("own.train_needs_key"))
        if self.is_running:
            return Text("own.in_progress", status=self.state().status)
        return self._launch("own", run.config, lambda config, run_id: self._run_own(run, config))

    def stop(self, key: str | None = None) -> Text:
        self.teacher.require(key, Text("jobs.needs_key", what=Text("jobs.what_stop")))
        with self._lock:
            if not self._state.running:
                return Text("jobs.no_run")
            self._work.stop()
            self._steering.resume()                              # a paused run wakes up to stop
            if self._state.state in ("running", "paused"):
                self._set(state="stopping", status=Text("jobs.stopping_status"))
        return Text("jobs.stopping")

    # ---- steering a training run (the loop's between_batches hook, see steer.py)
    def pause(self, key: str | None = None) -> Text:
        problem = self._steerable(key, "jobs.what_pause")
        if problem:
            return problem
        with self._lock:
            if self._state.state != "running":
                return Text("jobs.already_paused" if self._state.state == "paused" else "jobs.ending")
            self._steering.pause()
            self._set(state="paused", status=Text("jobs.paused_status", step=self._state.step,
                                                   total=self._state.total_steps))
        return Text("jobs.paused")

    def resume(self, key: str | None = None) -> Text:
        problem = self._steerable(key, "jobs.what_resume")
        if problem:
            return problem
        with self._lock:
            if self._state.state != "paused":
                return Text("jobs.not_paused")
            self._steering.resume()
            self._set(state="running", status=Text("jobs.resumed_status"))
        return Text("jobs.resumed")

    def set_lr(self, lr, key: str | None = None) -> Text:
        """A new learning rate from the next batch on, for the rest of the run (the schedule stops)."""
        problem = self._steerable(key, "jobs.what_lr") or check_lr(lr)
        if problem:
            return problem
        self._steering.request_lr(float(lr))
        return Text("jobs.lr_set", lr=f"{float(lr):g}")

    def _steerable(self, key: str | None, what: str) -> Text | None:
        self.teacher.require(key, Text("jobs.needs_key", what=Text(what)))
        with self._lock:
            if not self._state.running:
                return Text("jobs.no_run")
            if self._state.mode != "train":
                return Text("jobs.not_steerable")
        return None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run has ended (tests, scripts); True if nothing is running."""
        self._work.wait(timeout)
        return not self.is_running

    def use_checkpoint(self, path: str | Path, key: str | None = None) -> Text:
        """Make an uploaded checkpoint the latest run. Raises CheckpointError for a bad file."""
        self.teacher.require(key, Text("jobs.needs_key", what=Text("jobs.what_load")))
        if self.is_running:
            return Text("jobs.load_while_running")
        payload = checkpoints.read_payload(path)
        loaded = checkpoints.from_payload(payload, str(path))   # refuse before replacing anything
        saved = checkpoints.save_payload(self.latest_path, payload)
        self.zoo.set_latest(replace(loaded, path=str(saved)), how="zoo.uploaded")
        acc = loaded.metrics.get("test_accuracy")
        text = Text("jobs.loaded", file=Path(path).name, model=loaded.model_name,
                    dataset=Text(f"datasets.{loaded.spec.name}"),
                    accuracy=Text("jobs.loaded_accuracy", accuracy=acc) if acc else "")
        with self._lock:
            self._set(latest=str(saved), status=text)
        return text

    # ---- internals
    def _check(self, config: TrainConfig, key: str | None) -> Text | str | None:
        self.teacher.require(key, Text("jobs.needs_key", what=Text("jobs.what_train")))
        if self.is_running:
            return Text("jobs.in_progress", status=self.state().status)
        return train_problem(config)

    def _launch(self, mode: str, config: TrainConfig, target) -> Text:
        with self._lock:
            if self._state.running or self._work.running:        # lost a race with another click
                return Text("jobs.in_progress", status=self._state.status)
            self._steering = Steering()
            self._loss, self._acc, self._race = [], [], []
            self._last_train_epoch = None
            run_id = self._state.run_id + 1
            spec = datasets.get_spec(config.dataset)
            what = Text({"race": "jobs.what_race", "sweep": "jobs.what_sweep"}.get(mode, "jobs.what_training"),
                        model=config.model, dataset=Text(f"datasets.{spec.name}"))
            self._state = RunState(version=self._state.version + 1, run_id=run_id, mode=mode,
                                   state="running", status=Text("jobs.loading", what=what),
                                   config=config.to_dict(), epochs=config.epochs, latest=self._state.latest)
            self._bell.ring()
            self._work.start(lambda stop: self._guarded(target, config, run_id))
        return Text("jobs.started", what=what)

    def _set(self, **changes) -> None:
        """Change the state (caller holds the lock)."""
        self._state = replace(self._state, version=self._state.version + 1, **changes)
        self._bell.ring()

    @property
    def _stop(self) -> Stop:
        """The running task's stop request (each run has its own)."""
        return self._work.stop_request

    def _guarded(self, target, config: TrainConfig, run_id: int) -> None:
        try:
            target(config, run_id)
        except Exception as err:                                 # the thread must never die silently
            log.exception("training run %s failed", run_id)
            message = err.args[0] if isinstance(err, (datasets.DataMissingError, KeyError, ValueError)) \
                and err.args else f"{type(err).__name__}: {err}"
            with self._lock:
                self._set(state="failed", status=Text("jobs.failed", why=message))
        finally:
            with self._lock:
                if self._state.running:                          # a path that did not set an end
                    self._set(state="stopped", status=Text("jobs.ended"))

    def _notify(self, event: TrainEvent, model: nn.Module, config: TrainConfig) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event, model, config)
            except Exception:                                    # a viewer's add-on must not end the run
                log.exception("training subscriber %r failed on %s", subscriber, event.kind)

    # ---- a normal run
    def _run_training(self, config: TrainConfig, run_id: int, final: bool = True) -> None:
        root, download = self.data_root, self.download
        spec = datasets.get_spec(config.dataset)
        test = datasets.load(config.dataset, "test", root, download)
        idx = grid_indices(test.labels, spec.num_classes)
        grid_x = datasets.normalize(test.images[idx], spec)
        grid = Grid(as_pictures(test.images[idx]), test.labels[idx].tolist(), spec.classes)
        training.seed_everything(config.seed)                    # same seed, same initial weights
        model = build_model(config.model, spec, finetune=config.finetune, layers=config.layers)
        trunk_out = None                                        # a frozen trunk's grid features
        title = Text("jobs.title", model=config.model, dataset=Text(f"datasets.{spec.name}"),
                     optimizer=config.optimizer)
        with self._lock:
            self._set(grid=grid, status=Text("jobs.starting", title=title))
        for ev in training.fit(config, root=root, stop=self._stop, model=model, download=download,
                               final_eval=False, hooks=training.Hooks(between_batches=self._steering)):
            if ev.kind == "done":
                self._finish_training(ev, model, config, test, title, final)
                return
            if ev.kind == "start" and trunk_frozen(model):
                trunk_out = grid_features(model, grid_x)
            grid = predict_grid(model, grid, grid_x, trunk_out)
            self._record(ev, config, grid, title)
            self._notify(ev, model, config)

    def _record(self, ev: TrainEvent, config: TrainConfig, grid: Grid, title: Text) -> None:
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
                status = Text("jobs.stopping_status")
            elif state == "paused":
                status = self._state.status
            elif ev.message and not ev.step:                     # before the first batch: what it does
                reading = isinstance(ev.message, Text) and ev.message.key == "training.reading_photos"
                status = (Text("jobs.starting", title=title) if ev.kind == "start" else
                          Text("jobs.reading_photos", **ev.message.fields) if reading else
                          Text("jobs.preparing", what=ev.message))
            else:
                status = progress_line(title, ev, config, eta, grid)
            self._set(step=ev.step, total_steps=ev.total_steps, epoch=ev.epoch, elapsed_s=ev.elapsed_s,
                      images_per_s=ev.images_per_s, eta_s=eta, val_acc=ev.val_acc, evals=evals,
                      grid=grid, status=status)

    def _finish_training(self, ev: TrainEvent, model: nn.Module, config: TrainConfig,
                         test: datasets.TensorData, title: Text, final: bool = True) -> None:
        """Final evaluation, checkpoint, publish as 'latest', tell the subscribers, show results.

        After a Stop the test set is the validation subset (a fraction of a second), so a stopped
        run settles at once; a finished run (or one ended by its time budget) uses the whole set.
        The validation curves get their last point here, at the very end of the training.
        """
        user_stop = self._stop.is_set()
        with self._lock:
            self._set(status=Text("jobs.stopped_measuring" if user_stop else "jobs.finished_measuring",
                                  title=title))
        val_n = min(config.val_size or len(test), len(test))
        scored_n = val_n if user_stop else 0
        photos_read = ev.step > 0 or not trunk_frozen(model)     # else a frozen trunk has no features yet
        so_far = {"steps": ev.step, "epochs": round(ev.epoch, 3), "train_seconds": round(ev.elapsed_s, 1),
                  "stopped": bool(ev.stopped)}
        path, metrics, r = finish.evaluate_and_save(self.latest_path, model, config,
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
            if "calibration" in metrics:        # the reliability diagram (cnnlab.core.plots.reliability_figure)
                results["calibration"] = metrics["calibration"]
        self.zoo.set_latest(checkpoints.load(path))
        self._notify(replace(ev, model=model, metrics=metrics), model, config)
        acc = ""
        if "test_accuracy" in results:
            acc = Text("jobs.test_accuracy" if results["test_images"] == len(test) else "jobs.test_accuracy_on",
                       accuracy=results["test_accuracy"], images=results["test_images"])
        text = Text("jobs.stopped" if ev.stopped else "jobs.finished", steps=ev.step, seconds=ev.elapsed_s,
                    accuracy=acc)
        end = ("stopped" if ev.stopped else "finished") if final or user_stop else "running"   # a grid goes on
        with self._lock:
            self._set(state=end, status=text, results=results,
                      latest=str(path), eta_s=None, step=ev.step, epoch=ev.epoch, elapsed_s=ev.elapsed_s)

    # ---- a hyperparameter grid (cnnlab.core.sweep)
    def _run_sweep(self, plan, run_id: int) -> None:
        """Each configuration as a normal run (its own run id, curves, pictures and results), the
        table updated as each starts and ends."""
        table = list(sweep.rows(plan))
        n = len(plan.configs)
        with self._lock:
            self._set(sweep=tuple(table), sweep_id=run_id)
        for k, config in enumerate(plan.configs):
            if self._stop.is_set():
                break
            with self._lock:
                table[k] = {**table[k], "state": "training"}
                self._steering = Steering()
                self._loss, self._acc = [], []
                self._last_train_epoch = None
                self._set(run_id=run_id + k, sweep=tuple(table), config=config.to_dict(), epochs=config.epochs,
                          evals=(), results=None, step=0, total_steps=0, epoch=0.0, eta_s=None, val_acc=None,
                          status=Text("runs.grid_status", k=k + 1, n=n, model=config.model,
                                      optimizer=config.optimizer, lr=config.lr, batch=config.batch_size))
            self._run_training(config, run_id + k, final=k == n - 1)
            r = self._state.results or {}
            with self._lock:
                table[k] = {**table[k], "state": "stopped" if self._stop.is_set() else "done",
                            "test_accuracy": r.get("test_accuracy"), "test_images": r.get("test_images"),
                            "seconds": r.get("seconds")}
                self._set(sweep=tuple(table))
        table = [{**row, "state": "skipped"} if row["state"] == "waiting" else row for row in table]
        top = sweep.best(table)
        done = sum(row["state"] not in ("waiting", "skipped") for row in table)
        with self._lock:
            self._set(sweep=tuple(table))
        best = Text("runs.grid_best", config=top["config"], model=top["model"], optimizer=top["optimizer"],
                    lr=top["lr"], batch=top["batch_size"], accuracy=top["test_accuracy"]) if top else ""
        text = Text("runs.grid_stopped" if self._stop.is_set() else "runs.grid_finished", done=done, n=n, best=best)
        with self._lock:
            state = self._state.state
            if state in ("running", "stopping", "paused"):
                state = "stopped"
            self._set(state=state, status=text)

    # ---- the class's own classes (cnnlab.lessons.own.model.OwnRun; its sentences are Texts, section "own")
    def _run_own(self, run, config: TrainConfig) -> None:
        with self._lock:
            self._set(grid=run.grid, status=Text("own.starting", title=run.title))
        hooks = training.Hooks(between_batches=self._steering)
        for ev in run.events(self._stop, hooks):
            if ev.kind == "done":
                break
            if ev.message and not ev.step:                       # reading the pictures, before the first batch
                with self._lock:
                    if self._state.state == "running":
                        self._set(status=ev.message, elapsed_s=ev.elapsed_s)
                continue
            self._record(ev, config, run.predict_grid(run.grid), run.title)
        out = run.finish(self.latest_path, ev)
        if "test_accuracy" in out.results:
            self._record(replace(ev, kind="eval", val_loss=out.metrics["test_loss"],
                                 val_acc=out.metrics["test_accuracy"]), config, run.predict_grid(run.grid), run.title)
            self.zoo.set_latest(checkpoints.load(out.path), how="zoo.own_classes")
            text = Text("own.stopped" if ev.stopped else "own.finished", steps=ev.step, seconds=ev.elapsed_s,
                        accuracy=out.metrics["test_accuracy"], images=out.metrics["test_images"],
                        all=out.metrics["model_images"])
        else:
            text = Text("own.stopped_early")
        with self._lock:
            self._set(state="stopped" if ev.stopped else "finished", status=text, results=out.results,
                      latest=str(out.path) if "test_accuracy" in out.results else self._state.latest,
                      eta_s=None, step=ev.step, epoch=ev.epoch, elapsed_s=ev.elapsed_s)

    # ---- the optimizer race
    def _run_race(self, config: TrainConfig, run_id: int) -> None:
        what = Text("jobs.race_title", model=config.model, dataset=Text(f"datasets.{config.dataset}"))
        last_status = -1.0
        ev = None
        for ev in race(config, self.data_root, self._stop, self.download):
            if ev.kind == "start":
                with self._lock:
                    self._set(total_steps=RACE_STEPS, status=Text("jobs.race_starting", what=what))
                continue
            with self._lock:
                self._race.extend((ev.step, loss, lane) for lane, loss in ev.losses.items())
                if ev.kind != "done" and ev.elapsed_s - last_status < config.event_every_s:
                    self._set()                                  # new points only
                    continue
                last_status = ev.elapsed_s
                left = ev.eta_s or 0.0
                status = self._state.status if self._state.state == "stopping" else Text(
                    "jobs.race_progress", what=what, step=ev.step, total=RACE_STEPS, left=left,
                    losses=" · ".join(f"{lane.split()[0]} {loss:.3f}" for lane, loss in ev.losses.items()))
                self._set(step=ev.step, epoch=ev.epoch, elapsed_s=ev.elapsed_s, images_per_s=ev.images_per_s,
                          eta_s=left, status=status)
        finals = ev.metrics["race"]
        stopped = self._stop.is_set()
        table = listed([f"{f['optimizer']} {f['val_accuracy']:.1%}" for f in finals])
        text = Text("jobs.race_stopped" if stopped else "jobs.race_finished", steps=ev.step,
                    seconds=ev.elapsed_s, table=table)
        with self._lock:
            self._set(state="stopped" if stopped else "finished", status=text, eta_s=None,
                      results={"race": finals, "stopped": stopped, "steps": ev.step})
