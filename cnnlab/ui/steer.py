"""Steering the shared run from the Train tab: Pause / Resume and a new learning rate mid-run
(teacher only when a key is set; the job checks it). The changes are drawn on the loss curve as
vertical lines. Every word is in cnnlab/i18n (section "train"); answers come back in the reader's
language."""
from __future__ import annotations

import gradio as gr

from ..core.steer import MAX_LR
from ..i18n import DEFAULT, tr
from .common import job_reply, teacher_only
from .lang import T, lang_of

SERIES = "learning rate changed"   # the markers' series on the loss curve (shown as train.series_marker)
COLOR = "#CC79A7"            # reddish purple: apart from the blue/orange/green curves


def marker_rows(markers, top: float) -> list[tuple]:
    """Vertical lines at each change, as one series for gr.LinePlot: up at the first change, along
    the top edge to the next one, down, along the bottom edge, ... (the edges hide under the frame)."""
    rows = []
    for k, (epoch, _old, _new) in enumerate(markers):
        ends = (0.0, top) if k % 2 == 0 else (top, 0.0)
        rows += [(epoch, ends[0], SERIES), (epoch, ends[1], SERIES)]
    return rows


def changes_text(markers, lang: str = DEFAULT) -> str:
    if not markers:
        return ""
    return tr(lang, "train.lr_changes", items=tr(lang, "train.lr_change_separator").join(
        tr(lang, "train.lr_change", epoch=e, old=o, new=n) for e, o, n in markers))


def build(job, key: gr.Textbox, notice: gr.Markdown, default_lr: float) -> dict:
    """The controls (made where this is called) and their handlers; returns the components,
    ``render(snap, seen) -> updates`` for the Train tab's refresh, and the click events (the tab
    refreshes the clicking page right after them)."""
    with gr.Row():
        pause = gr.Button(T("train.pause"), interactive=False, elem_id="train-pause", min_width=90)
        resume = gr.Button(T("train.resume"), interactive=False, elem_id="train-resume", min_width=90)
    with gr.Row(equal_height=True):
        lr = gr.Number(default_lr, label=T("train.new_lr"), info=T("train.new_lr_info"), minimum=1e-6,
                       maximum=MAX_LR, elem_id="train-new-lr", min_width=140)
        set_lr = gr.Button(T("train.set_lr"), interactive=False, elem_id="train-set-lr", min_width=120)

    @teacher_only(job.teacher)
    def train_pause(teacher_key: str | None = None, request: gr.Request = None) -> str:
        return job_reply(job.pause(teacher_key), lang_of(request), "jobs.paused")

    @teacher_only(job.teacher)
    def train_resume(teacher_key: str | None = None, request: gr.Request = None) -> str:
        return job_reply(job.resume(teacher_key), lang_of(request), "jobs.resumed")

    @teacher_only(job.teacher)
    def train_set_lr(lr: float = default_lr, teacher_key: str | None = None, request: gr.Request = None) -> str:
        return job_reply(job.set_lr(lr, teacher_key), lang_of(request), "jobs.lr_set")

    common = dict(concurrency_limit=None, concurrency_id="train-control", show_progress="hidden")
    events = [
        pause.click(train_pause, key, notice, api_name="train_pause", **common,
                    api_description="Pause the shared training run after the current batch (Resume goes on)."),
        resume.click(train_resume, key, notice, api_name="train_resume", **common,
                     api_description="Resume the paused shared training run."),
        set_lr.click(train_set_lr, [lr, key], notice, api_name="train_set_lr", **common,
                     api_description="Set the shared run's learning rate from the next batch on (the schedule "
                     "stops); the change is marked on the loss curve.")]

    def render(snap, seen: dict) -> dict:
        steerable = (snap.state, snap.mode)
        if seen.get("steer") == steerable:
            return {}
        going = snap.mode == "train" and snap.state in ("running", "paused")
        return {pause: gr.Button(interactive=going and snap.state == "running"),
                resume: gr.Button(interactive=going and snap.state == "paused"),
                set_lr: gr.Button(interactive=going)}

    return {"components": [pause, resume, set_lr], "render": render, "key": lambda snap: (snap.state, snap.mode),
            "events": events}
