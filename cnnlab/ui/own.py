"""Own classes tab: the class teaches the network something new, from its own photos.

The teacher makes 2-10 named classes and opens them for pictures; everyone (phones included) adds
pictures from the webcam or from files; the projector shows the counts and thumbnails grow live
(a 2 s timer that sends nothing when nothing changed). Train reads each picture through the flower
model's pretrained backbone once (cached, in the background as pictures arrive) and trains a small
head as the class's shared run; Test classifies a webcam shot or photo; Export gives the checkpoint
and the pictures (ImageFolder zip + annotation file + class names).

Logic lives in ``cnnlab.lessons.own.data`` (store, limits), ``cnnlab.lessons.own.prepared``
(loaders) and ``cnnlab.lessons.own.model`` (features, run, model); the views in ``own_views``; the
handlers here check the teacher key and the rate limit, and turn errors into
sentences. Uploads arrive unprocessed (``preprocess=False``) so every file reaches the app's own
safe decoder.

Every word is in ``cnnlab/i18n`` (section ``own``): fixed ones are ``T(...)``; the ones a handler
makes (counts, status, answers, errors) are rendered in the reader's language (``lang_of``), and
the core's Texts (``OwnDataError``, the run's status) with ``say``. The class names the students
type are data: they are shown as typed, in every language.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import gradio as gr

from ..config import LIMITS
from ..core import imageio
from ..core.inference import answer
from ..core.nets import export
from ..i18n import Refusal, Text, refusal_of, say, tr
from ..lessons.own.data import (
    MIN_PICTURES,
    OwnDataError,
    joined,
)
from ..lessons.own.model import OwnRun, space_for
from ..lessons.own.prepared import load_dataset
from .common import job_reply, refusing, teacher_only
from .context import AppContext
from .lang import T, lang_of
from .own_views import (
    ACC_SERIES,
    LIVE_EVERY_S,
    LIVE_LIMIT_S,
    REFRESH_S,
    class_choices,
    confusion_png,
    counts_html,
    file_paths,
    live_clock,
    report_text,
    verdict,
    zip_pictures,
)
from .photo import photo_source
from .train_views import drawable, frame


# --------------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    space = space_for(ctx.config.runs_dir)
    store, job = space.store, ctx.job
    scratch = ctx.scratch

    def teacher(key) -> bool:
        return ctx.teacher_ok(key)

    teacher_action = teacher_only(ctx.teacher)

    def failed(err: Exception) -> Refusal:
        """The error's sentence (a Text from the core, or a plain one) under this tab's title."""
        return Refusal(refusal_of(err).text, title=Text("own.failed_title"))

    gr.Markdown(T("own.intro"))
    key = gr.Textbox(label=T("own.key"), type="password", visible=bool(ctx.config.teacher_key),
                     placeholder=T("own.key_hint"), elem_id="own-key")
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            gr.Markdown(T("own.classes_heading"))
            with gr.Row():
                new_name = gr.Textbox(label=T("own.new_name"), placeholder=T("own.new_placeholder"),
                                      elem_id="own-new-name", max_length=60, scale=3, min_width=160)
                create_btn = gr.Button(T("own.create"), elem_id="own-create", scale=1, min_width=100)
            chosen = gr.Dropdown(class_choices(space), value=None, label=T("own.class"), elem_id="own-class",
                                 allow_custom_value=True)
            with gr.Row():
                rename_to = gr.Textbox(label=T("own.rename_to"), elem_id="own-rename-to", max_length=60,
                                       scale=3, min_width=160)
                rename_btn = gr.Button(T("own.rename"), elem_id="own-rename", scale=1, min_width=100)
            with gr.Row():
                open_btn = gr.Button(T("own.open"), elem_id="own-open", size="sm")
                close_btn = gr.Button(T("own.close"), elem_id="own-close", size="sm")
                delete_btn = gr.Button(T("own.delete"), elem_id="own-delete", size="sm", variant="stop")
            notice = gr.Markdown("", elem_id="own-notice")
        with gr.Column(scale=1, min_width=300):
            counts = gr.HTML(counts_html(space), elem_id="own-counts")
    gr.Markdown(T("own.add_heading"))
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            target = gr.Dropdown(class_choices(space), value=None, label=T("own.add_class"),
                                 elem_id="own-target", allow_custom_value=True)
            camera = gr.Image(sources=["webcam", "upload", "clipboard"], type="filepath", label=T("own.camera"),
                              elem_id="own-camera", height=300)
        with gr.Column(scale=1, min_width=300):
            files = gr.File(file_count="multiple", file_types=["image", ".zip"], label=T("own.files"),
                            elem_id="own-files", height=160)
            added = gr.Markdown("", elem_id="own-added")
    gr.Markdown(T("own.train_heading"))
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            epochs = gr.Slider(LIMITS["own_epochs"].low, LIMITS["own_epochs"].high, 40, step=1,
                               label=T("own.epochs"), elem_id="own-epochs")
            with gr.Row():
                train_btn = gr.Button(T("own.train"), variant="primary", elem_id="own-train")
                stop_btn = gr.Button(T("own.stop"), elem_id="own-stop")
            status = gr.Markdown(T("own.run_idle"), elem_id="own-status")
            acc_plot = gr.LinePlot(x="epoch", y="value", color="series", title=T("own.acc_title"), y_lim=[0, 1],
                                   elem_id="own-acc", height=220)
        with gr.Column(scale=1, min_width=300):
            cm_image = gr.Image(None, label=T("own.cm_title"), elem_id="own-cm", interactive=False,
                                visible=False, buttons=[], show_label=False)
    gr.Markdown(T("own.test_heading"))
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            test_in = gr.Image(sources=["webcam", "upload", "clipboard"], type="filepath", label=T("own.test_input"),
                               elem_id="own-test-input", height=300)
            live = gr.Image(sources=["webcam"], streaming=True, type="filepath", label=T("own.live"),
                            elem_id="own-live", height=240)
        with gr.Column(scale=1, min_width=300):
            test_md = gr.Markdown(T("own.test_hint"), elem_id="own-verdict")
            test_probs = gr.Label(num_top_classes=3, label=T("own.top"), elem_id="own-probs", show_heading=False)
    with gr.Accordion(T("own.load_title"), open=False):
        gr.Markdown(T("own.load_hint"))
        load_files = gr.File(file_count="multiple", file_types=[".zip", ".txt", ".json", "image"],
                             label=T("own.load_files"), elem_id="own-load-files", height=140)
        load_btn = gr.Button(T("own.load"), elem_id="own-load")
    gr.Markdown(T("own.export_heading"))
    with gr.Row():
        export_model_btn = gr.Button(T("own.export_model"), elem_id="own-export-model", size="sm")
        export_onnx_btn = gr.Button(T("own.export_onnx"), elem_id="own-export-onnx", size="sm")
        export_data_btn = gr.Button(T("own.export_data"), elem_id="own-export-data", size="sm")
        sure = gr.Checkbox(False, label=T("own.clear_sure"), elem_id="own-clear-sure")
        clear_btn = gr.Button(T("own.clear"), variant="stop", elem_id="own-clear", size="sm")
    with gr.Column(visible=False) as download_box:                 # shown once there is something in it
        downloads = gr.File(label=T("own.downloads"), elem_id="own-downloads", interactive=False)
    seen = gr.State({})                      # what this viewer was last sent (skip unchanged parts)

    # ---- classes (teacher)
    @teacher_action
    def own_create(name: str | None = None, teacher_key: str | None = None, request: gr.Request = None):
        """Add a class (open for pictures)."""
        lang = lang_of(request)
        try:
            c = store.create(name)
        except OwnDataError as err:
            raise failed(err) from err
        choices = class_choices(space, lang)
        return (tr(lang, "own.created", name=c.name), "", gr.update(choices=choices, value=c.id),
                gr.update(choices=choices, value=c.id))

    @teacher_action
    def own_rename(class_id: str | None = None, name: str | None = None, teacher_key: str | None = None,
                   request: gr.Request = None):
        """Rename a class (its pictures stay)."""
        lang = lang_of(request)
        try:
            c = store.rename(class_id, name)
        except OwnDataError as err:
            raise failed(err) from err
        choices = class_choices(space, lang)
        return tr(lang, "own.renamed", name=c.name), "", gr.update(choices=choices), gr.update(choices=choices)

    @teacher_action
    def own_delete(class_id: str | None = None, teacher_key: str | None = None, request: gr.Request = None):
        """Delete a class and its pictures."""
        lang = lang_of(request)
        try:
            c = store.delete(class_id)
        except OwnDataError as err:
            raise failed(err) from err
        space.cache.clear_unused({p.stem for _, files in store.snapshot() for p in files})
        choices = class_choices(space, lang)
        return (tr(lang, "own.deleted", name=c.name, n=c.count), gr.update(choices=choices, value=None),
                gr.update(choices=choices, value=None))

    def set_open(class_id: str, is_open: bool, lang: str):
        try:
            c = store.set_open(class_id, is_open)
        except OwnDataError as err:
            raise failed(err) from err
        choices = class_choices(space, lang)
        return (tr(lang, "own.now_open" if is_open else "own.now_closed", name=c.name), gr.update(choices=choices),
                gr.update(choices=choices))

    @teacher_action
    def own_open(class_id: str | None = None, teacher_key: str | None = None, request: gr.Request = None):
        """Open a class for everyone's pictures."""
        return set_open(class_id, True, lang_of(request))

    @teacher_action
    def own_close(class_id: str | None = None, teacher_key: str | None = None, request: gr.Request = None):
        """Close a class: only the teacher adds pictures to it."""
        return set_open(class_id, False, lang_of(request))

    # ---- adding pictures (anyone, to open classes)
    def check_rate(n: int, is_teacher: bool, request: gr.Request | None) -> None:
        if is_teacher or not ctx.teacher.required:   # no key: the app only serves this laptop (one user)
            return
        session = getattr(request, "session_hash", None) or "?"
        host = getattr(getattr(request, "client", None), "host", None) or "?"
        wait = max(space.rate.take(f"s:{session}", n), space.host_rate.take(f"h:{host}", n))
        if wait:
            raise Refusal(Text("own.rate", s=max(1.0, wait)))

    def add_sources(class_id, sources, names, teacher_key, request, bad=()):
        lang = lang_of(request)
        if not class_id:
            raise Refusal(Text("own.pick_class"))
        is_teacher = teacher(teacher_key)
        try:
            cls = store.get(class_id)
            if not is_teacher and not cls.open:
                raise OwnDataError(Text("own.not_open", name=cls.name))
            check_rate(len(sources), is_teacher, request)
            report = store.add(class_id, sources, names, require_open=not is_teacher)
        except OwnDataError as err:
            raise failed(err) from err
        report.bad = list(bad) + report.bad
        if report.added:
            space.pictures_added()
        if not report.added and not report.duplicates and (report.bad or report.refused):
            raise Refusal(report_text(report, cls.name, lang), title=Text("own.failed_title"))
        choices = class_choices(space, lang)
        return report_text(report, cls.name, lang), gr.update(choices=choices), gr.update(choices=choices)

    @refusing
    def own_add_photo(photo=None, class_id: str | None = None, teacher_key: str | None = None,
                      request: gr.Request = None):
        """Add one picture (webcam shot or upload) to a class open for pictures."""
        try:
            source = photo_source(photo)
        except imageio.ImageInputError as err:
            raise failed(err) from err
        if source is None:
            return gr.skip(), gr.skip(), gr.skip()
        name = Text("own.webcam_picture") if not isinstance(source, str) else Path(source).name
        return add_sources(class_id, [source], [name], teacher_key, request)

    @refusing
    def own_add_files(files=None, class_id: str | None = None, teacher_key: str | None = None,
                      request: gr.Request = None):
        """Add several pictures, or the pictures in a zip, to a class open for pictures."""
        paths = file_paths(files)
        if not paths:
            return gr.skip(), gr.skip(), gr.skip()
        sources, names, bad = [], [], []
        for path, name in paths:
            if name.lower().endswith(".zip"):
                try:
                    data, members, problems = zip_pictures(path, name)
                except OwnDataError as err:
                    bad.append(err.args[0])
                    continue
                sources += data
                names += members
                bad += problems
            else:
                sources.append(path)
                names.append(name)
        return add_sources(class_id, sources, names, teacher_key, request, bad)

    # ---- a prepared data set (teacher)
    @teacher_action
    def own_load_dataset(files=None, teacher_key: str | None = None, request: gr.Request = None):
        """Load a prepared data set: a zip in ImageFolder layout, or pictures + an annotation file."""
        lang = lang_of(request)
        paths = file_paths(files)
        if not paths:
            raise Refusal(Text("own.load_empty"))
        try:
            prepared = load_dataset([p for p, _ in paths], [n for _, n in paths])
            report = store.import_set(prepared)
        except OwnDataError as err:
            raise failed(err) from err
        if not report.added and not report.duplicates:
            raise Refusal(report_text(report, "", lang), title=Text("own.failed_title"))
        space.pictures_added()
        counts = joined([Text("own.name_count", name=name, n=n) for name, n in prepared.counts().items()],
                        "own.join_names")
        head = Text("own.loaded", n=report.added, k=len(prepared.classes), counts=counts)
        choices = class_choices(space, lang)
        return report_text(report, "", lang, head=head, named=8), gr.update(choices=choices), gr.update(choices=choices)

    @teacher_action
    def own_clear_pictures(sure: bool = False, teacher_key: str | None = None, request: gr.Request = None):
        """Delete every picture of every class (the classes stay)."""
        lang = lang_of(request)
        if sure is not True:
            raise Refusal(Text("own.clear_confirm"))
        space.worker.stop()                          # no more reading of pictures about to go
        n = store.clear_pictures()
        space.cache.clear_unused(set())
        choices = class_choices(space, lang)
        return tr(lang, "own.cleared", n=n), False, gr.update(choices=choices), gr.update(choices=choices)

    # ---- training (teacher) and the run's view (everyone)
    @teacher_action
    def own_train(epochs: float = 40, teacher_key: str | None = None, request: gr.Request = None):
        """Train the own classes as the class's shared run (a small head on the pretrained network's features)."""
        lang = lang_of(request)
        from ..lessons.own.model import default_config
        try:
            run = OwnRun(store, space.cache, default_config(epochs=epochs))
        except ValueError as err:
            raise failed(err) from err
        return job_reply(job.start_own(run, teacher_key), lang, "jobs.started")

    @refusing
    def own_stop(teacher_key: str | None = None, request: gr.Request = None):
        """Stop the shared run after the current batch."""
        return job_reply(job.stop(teacher_key), lang_of(request), "jobs.stopping")

    shown: dict[str, tuple] = {}                    # the counts view, drawn once per change and language
    shown_lock = threading.Lock()

    def shared_counts(lang: str) -> str:
        key = (store.version, space.worker.busy)
        with shown_lock:
            if shown.get(lang, (None,))[0] != key:
                shown[lang] = (key, counts_html(space, lang=lang))
            return shown[lang][1]

    def view(state: dict, lang: str, force: bool = False):
        """What changed since this viewer's last refresh: counts, class lists, the run."""
        out = {}
        if force or state.get("store") != store.version or (state.get("pending") and not space.worker.busy):
            out[counts] = shared_counts(lang)
            choices = class_choices(space, lang)
            out[chosen] = gr.update(choices=choices)
            out[target] = gr.update(choices=choices)
            state = {**state, "store": store.version, "pending": space.worker.busy}
        snap = job.state()
        words = dict(title=tr(lang, "own.acc_title"), x_title=tr(lang, "own.axis_epoch"),
                     y_title=tr(lang, "own.axis_accuracy"), color_title=tr(lang, "own.legend"))
        if snap.mode == "own" and (force or state.get("run") != snap.version):
            out[status] = say(lang, snap.status)
            acc = drawable(frame([r for r in snap.accuracy], ("epoch", "value", "series")), [ACC_SERIES])
            acc = acc.assign(series=acc["series"].map(lambda s: tr(lang, "own.series_accuracy")
                                                      if s == ACC_SERIES else s))
            out[acc_plot] = gr.LinePlot(acc, x_lim=[0, snap.epochs or 1], **words)
            r = snap.results
            if r and "confusion_matrix" in r and state.get("cm") != snap.run_id:
                out[cm_image] = gr.Image(confusion_png(scratch, snap, lang), visible=True)
                state = {**state, "cm": snap.run_id}
            state = {**state, "run": snap.version}
        elif force:
            out[acc_plot] = gr.LinePlot(**words)
        out[seen] = state
        return out

    def refresh(state, request: gr.Request = None):
        return view(state or {}, lang_of(request))

    def start(state, request: gr.Request = None):
        """A new page or the tab opened: everything as it is now, in the reader's language."""
        lang = lang_of(request)
        out = view(state or {}, lang, force=True)
        if job.state().mode != "own":
            out[status] = tr(lang, "own.run_idle")
        return out

    def own_status(request: gr.Request = None) -> dict:
        """The own classes as JSON: names, picture counts, open or closed, and the last run's state
        (its status in the caller's language)."""
        snap = job.state()
        return {"classes": [{"id": c.id, "name": c.name, "pictures": c.count, "open": c.open}
                            for c in store.classes()],
                "total": store.total(), "features_pending": space.worker.pending(),
                "run": {"state": snap.state, "status": say(lang_of(request), snap.status)}
                if snap.mode == "own" else None,
                "model": list(space.model().classes) if space.model() else None}

    # ---- test and export
    @refusing
    def own_test(photo=None, request: gr.Request = None):
        """Classify a picture with the model trained on the own classes: top classes, and 'I'm not sure' when unsure."""
        lang = lang_of(request)
        try:
            source = photo_source(photo)
            if source is None:
                return tr(lang, "own.test_hint"), None
            picture = imageio.load_photo(source)
        except imageio.ImageInputError as err:
            raise failed(err) from err
        loaded = space.model()
        if loaded is None:
            return tr(lang, "own.no_model", n=MIN_PICTURES), None
        result = answer(loaded, picture.image)
        return verdict(result.probs, lang), result.probs

    def own_live(photo=None, clock=None, request: gr.Request = None):
        """A live webcam frame: classified like a photo, for LIVE_LIMIT_S of streaming at a time."""
        clock, allowed = live_clock(clock, time.monotonic())
        if not allowed:
            return tr(lang_of(request), "own.live_limit", minutes=LIVE_LIMIT_S // 60), None, clock
        return *own_test(photo, request), clock

    @teacher_action
    def own_export_model(teacher_key: str | None = None, request: gr.Request = None):
        """The model trained on the own classes as a cnnlab checkpoint (.pt)."""
        if space.model() is None:
            raise Refusal(Text("own.no_download_model"))
        folder = scratch.folder("own-model-")
        out = folder / "own-classes.pt"
        out.write_bytes(space.model_path.read_bytes())
        return str(out)

    @teacher_action
    def own_export_onnx(teacher_key: str | None = None, request: gr.Request = None):
        """The model trained on the own classes as ONNX: the pretrained network and the new layer in
        one file, normalised pictures in, probabilities out; class names in its metadata."""
        loaded = space.model()
        if loaded is None:
            raise Refusal(Text("own.no_download_model"))
        try:
            return str(export.to_onnx(loaded, scratch.folder("own-onnx-") / "own-classes.onnx"))
        except export.ExportError as err:
            raise failed(err) from err

    @teacher_action
    def own_export_data(teacher_key: str | None = None, request: gr.Request = None):
        """The pictures as a zip: ImageFolder layout + annotations.txt + cat_to_name.json."""
        if not store.total():
            raise Refusal(Text("own.no_download_data"))
        return str(store.export_zip(scratch.folder("own-data-") / "own-classes.zip"))

    lists = [chosen, target]
    teacher_ev = dict(concurrency_limit=2, concurrency_id="own-teacher", show_progress="minimal")
    create_btn.click(own_create, [new_name, key], [notice, new_name] + lists, api_name="own_create",
                     api_description="Add a class with this name (teacher key when the app has one).", **teacher_ev)
    new_name.submit(own_create, [new_name, key], [notice, new_name] + lists, api_name=False, **teacher_ev)
    rename_btn.click(own_rename, [chosen, rename_to, key], [notice, rename_to] + lists, api_name="own_rename",
                     api_description="Rename a class (by its id, see /own_status).", **teacher_ev)
    delete_btn.click(own_delete, [chosen, key], [notice] + lists, api_name="own_delete",
                     api_description="Delete a class and its pictures.", **teacher_ev)
    open_btn.click(own_open, [chosen, key], [notice] + lists, api_name="own_open",
                   api_description="Open a class: every student can add pictures to it.", **teacher_ev)
    close_btn.click(own_close, [chosen, key], [notice] + lists, api_name="own_close",
                    api_description="Close a class: only the teacher adds pictures to it.", **teacher_ev)
    chosen.change(lambda c: c, chosen, target, api_name=False, queue=False, show_progress="hidden")
    adding = dict(concurrency_limit=2, concurrency_id="own-add", show_progress="minimal", preprocess=False)
    camera.change(own_add_photo, [camera, target, key], [added] + lists, api_name="own_add_photo",
                  api_description="Add one picture (a webcam shot or a photo) to a class open for pictures.",
                  **adding).then(lambda: None, None, camera, api_name=False, queue=False)
    files.upload(own_add_files, [files, target, key], [added] + lists, api_name="own_add_files",
                 api_description="Add several pictures, or a zip of pictures, to a class open for pictures.",
                 **adding).then(lambda: None, None, files, api_name=False, queue=False)
    load_btn.click(own_load_dataset, [load_files, key], [notice] + lists, api_name="own_load_dataset",
                   api_description="Load a prepared data set: a zip in ImageFolder layout, or pictures with "
                   "an annotation file of 'filename label' lines and an optional names JSON.",
                   concurrency_limit=1, concurrency_id="own-load", show_progress="minimal", preprocess=False)
    clear_btn.click(own_clear_pictures, [sure, key], [notice, sure] + lists, api_name="own_clear_pictures",
                    api_description="Delete every picture of every class (sure=True; teacher key).", **teacher_ev)
    train_btn.click(own_train, [epochs, key], notice, api_name="own_train",
                    api_description="Train the own classes as the class's shared run (everyone watches it).",
                    **teacher_ev)
    stop_btn.click(own_stop, key, notice, api_name="own_stop",
                   api_description="Stop the shared run after the current batch.", **teacher_ev)
    test_in.change(own_test, test_in, [test_md, test_probs], api_name="own_test",
                   api_description="Classify a picture with the model trained on the own classes.",
                   concurrency_limit=2, concurrency_id="own-test", show_progress="minimal", preprocess=False)
    live_since = gr.State(None)
    live.stream(own_live, [live, live_since], [test_md, test_probs, live_since], api_name=False,
                stream_every=LIVE_EVERY_S, time_limit=LIVE_LIMIT_S, concurrency_limit=2, concurrency_id="own-test",
                preprocess=False, show_progress="hidden")
    reveal = dict(fn=lambda: gr.Column(visible=True), inputs=None, outputs=download_box, api_name=False, queue=False)
    export_model_btn.click(own_export_model, key, downloads, api_name="own_export_model",
                           api_description="Download the model trained on the own classes (.pt).", **teacher_ev
                           ).success(**reveal)
    export_onnx_btn.click(own_export_onnx, key, downloads, api_name="own_export_onnx",
                          api_description="Download the model trained on the own classes as ONNX (ONNX Runtime, "
                          "phones, browsers).", concurrency_limit=1, concurrency_id="own-onnx",
                          show_progress="minimal").success(**reveal)
    export_data_btn.click(own_export_data, key, downloads, api_name="own_export_data",
                          api_description="Download the pictures: ImageFolder zip + annotation file + names JSON.",
                          **teacher_ev).success(**reveal)
    outputs = [counts, chosen, target, status, acc_plot, cm_image, seen]
    timer = gr.Timer(REFRESH_S)
    # queue=False: each phone's tick is one short POST (nothing new: only its state comes back),
    # not a queue join and an event stream per phone and tick.
    timer.tick(refresh, seen, outputs, api_visibility="private", queue=False, show_progress="hidden")
    # Outside the queue: every phone sends it when the page opens.
    for event in ([tab.select] if isinstance(tab, gr.Tab) else []) + [demo.load]:
        event(start, seen, outputs, api_visibility="private", queue=False, show_progress="hidden")
    gr.api(own_status, api_name="own_status", concurrency_limit=None,
           api_description="The own classes as JSON: names, picture counts, open or closed, the last run.")
