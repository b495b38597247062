"""What every tab builder may use: the settings and the app's shared objects, all built once
in ``app.build_context``. Each is read-only for handlers or guarded by its own lock."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import AppConfig, data_root
from ..core.maps import MapCache
from ..core.snapshots import SnapshotRecorder
from ..lessons.board.store import BoardStore
from ..lessons.inside import LiveInside, PatchCache
from ..lessons.own.model import space_for
from ..server.classroom import TeacherKey
from ..server.jobs import TrainJob
from ..server.runs import FOLDER, RunIndex, RunRecorder
from ..server.scratch import Scratch
from ..server.zoo import ModelZoo


@dataclass(frozen=True)
class AppContext:
    config: AppConfig
    zoo: ModelZoo                   # shipped checkpoints + the latest run
    teacher: TeacherKey             # guards the teacher's actions
    job: TrainJob                   # the one shared training run
    board: BoardStore               # the class board's drawings
    maps: MapCache                  # t-SNE maps
    recorder: SnapshotRecorder      # the last layer during the shared run (subscribed to ``job``)
    scratch: Scratch                # the app's temporary files (pruned, removed at exit)
    patches: PatchCache             # the test patches that excite each filter, per checkpoint
    live: LiveInside                # the first layer during the shared run (subscribed to ``job``)
    runs: RunIndex | None = None    # the lesson's finished runs, to compare (a RunRecorder subscribed to ``job``)

    @property
    def data_root(self) -> Path:
        return data_root(self.config.data_dir)

    def teacher_ok(self, key: str | None) -> bool:
        return self.teacher.accepts(key)


def build_context(config: AppConfig) -> AppContext:
    """Every shared object of the app, wired together once."""
    root = data_root(config.data_dir)
    zoo = ModelZoo(config.checkpoint_dir)
    teacher = TeacherKey(config.teacher_key)
    job = TrainJob(zoo, config.runs_dir, root, download=config.allow_download, teacher=teacher)
    recorder, live = SnapshotRecorder(root), LiveInside(root)
    job.subscribe(recorder)
    job.subscribe(live)
    runs = RunIndex(Path(config.runs_dir) / FOLDER)
    job.subscribe(RunRecorder(runs, job))
    maps = MapCache(root, own_pictures=lambda classes: space_for(config.runs_dir).map_pictures(classes))
    return AppContext(config, zoo, teacher, job, BoardStore(Path(config.runs_dir) / "board.sqlite"),
                      maps, recorder, Scratch(), PatchCache(), live, runs)
