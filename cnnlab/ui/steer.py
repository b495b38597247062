"""Steering the shared run from the Train tab: Pause / Resume and a new learning rate mid-run
(teacher only when a key is set; the job checks it). The changes are drawn on the loss curve as
vertical lines. Every user-visible string is in ``TEXT``."""
from __future__ import annotations

import gradio as gr

from ..steer import MAX_LR

TEXT = {
    "pause": "Pause",
    "resume": "Resume",
    "lr": "New learning rate (mid-run)",
    "lr_info": "applied from the next batch on; the schedule stops",
    "set_lr": "Change learning rate",
    "series": "learning rate changed",
    "changes": "Learning rate changed by the teacher: {items}.",
    "item": "at epoch {epoch:.2f} from {old:.3g} to {new:.3g}",
}
SERIES = TEXT["series"]
COLOR = "#CC79A7"            # reddish purple: apart from the blue/orange/green curves


def marker_rows(markers, top: float) -> list[tuple]:
    """Vertical lines at each change, as one series for gr.LinePlot: up at the first change, along
    the top edge to the next one, down, along the bottom edge, ... (the edges hide under the frame)."""
    rows = []
    for k, (epoch, _old, _new) in enumerate(markers):
        ends = (0.0, top) if k % 2 == 0 else (top, 0.0)
        rows += [(epoch, ends[0], SERIES), (epoch, ends[1], SERIES)]
    return rows


def changes_text(markers) -> str:
    if not markers:
        return ""
    return TEXT["changes"].format(items="; ".join(TEXT["item"].format(epoch=e, old=o, new=n)
                                                  for e, o, n in markers))


def build(job, key: gr.Textbox, notice: gr.Markdown, default_lr: float) -> dict:
    """The controls (made where this is called) and their handlers; returns the components and
    ``render(snap, seen) -> updates`` for the Train tab's refresh."""
    with gr.Row():
        pause = gr.Button(TEXT["pause"], interactive=False, elem_id="train-pause", min_width=90)
        resume = gr.Button(TEXT["resume"], interactive=False, elem_id="train-resume", min_width=90)
    with gr.Row(equal_height=True):
        lr = gr.Number(default_lr, label=TEXT["lr"], info=TEXT["lr_info"], minimum=1e-6, maximum=MAX_LR,
                       elem_id="train-new-lr", min_width=140)
        set_lr = gr.Button(TEXT["set_lr"], interactive=False, elem_id="train-set-lr", min_width=120)

    def answer(message: str, ok_start: str) -> str:
        if not message.startswith(ok_start):
            gr.Warning(message)
        return message

    def train_pause(teacher_key: str | None = None) -> str:
        return answer(job.pause(teacher_key), "Paused")

    def train_resume(teacher_key: str | None = None) -> str:
        return answer(job.resume(teacher_key), "Resumed")

    def train_set_lr(lr: float = default_lr, teacher_key: str | None = None) -> str:
        return answer(job.set_lr(lr, teacher_key), "The learning rate becomes")

    common = dict(concurrency_limit=None, concurrency_id="train-control", show_progress="hidden")
    pause.click(train_pause, key, notice, api_name="train_pause", **common,
                api_description="Pause the shared training run after the current batch (Resume goes on).")
    resume.click(train_resume, key, notice, api_name="train_resume", **common,
                 api_description="Resume the paused shared training run.")
    set_lr.click(train_set_lr, [lr, key], notice, api_name="train_set_lr", **common,
                 api_description="Set the shared run's learning rate from the next batch on (the schedule "
                 "stops); the change is marked on the loss curve.")

    def render(snap, seen: dict) -> dict:
        steerable = (snap.state, snap.mode)
        if seen.get("steer") == steerable:
            return {}
        going = snap.mode == "train" and snap.state in ("running", "paused")
        return {pause: gr.Button(interactive=going and snap.state == "running"),
                resume: gr.Button(interactive=going and snap.state == "paused"),
                set_lr: gr.Button(interactive=going)}

    return {"components": [pause, resume, set_lr], "render": render, "key": lambda snap: (snap.state, snap.mode)}
