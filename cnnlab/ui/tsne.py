"""t-SNE tab: what the network's last layer has learned, as a map of test pictures.

Each dot is a test picture; pictures the network finds alike land close together. The student's
own drawing (from the Draw tab) or photo is placed into the map as a star without moving the map.
Below: the map at snapshots of the class's training run (slider + animated GIF), and the same
sample mapped from its raw pixels next to the last layer, to show what the network added.

Shared: the maps (``maps.MapCache``) and the run's snapshots (``snapshots.SnapshotRecorder``),
both read-only for handlers. Per user: the placed stars (``gr.State``).
"""
from __future__ import annotations

import html

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from ..config import LIMITS
from ..core import maps as tsne_maps
from ..core import tsne
from ..core.datasets import get_spec
from ..core.plots import CLASS_COLORS, RIGHT, STAR_COLOR, WRONG, animation_gif, star_rows, tsne_points_frame
from ..core.preprocess import prepare_for, sketch_pixels
from ..core.snapshots import SnapshotRecorder
from ..i18n import DEFAULT, Refusal, Text, class_name, refusal_of, say, tr
from .common import refusing
from .context import AppContext
from .inputs import drawing as raw_drawing
from .inputs import flag, number
from .inputs import photo as raw_photo
from .lang import T, lang_of

PICTURES_MAX = 3000          # above this many points the hover pictures are left out (data size)
STARS = ("drawing", "photo")                 # what a student can place on the map
STAR_DRAWING, STAR_PHOTO = (tr(DEFAULT, f"tsne.star_{kind}") for kind in STARS)    # their names in English
# Colour by: the values API callers send (they stay English), and what the page shows for them.
COLOUR_MODES = {"true class": "class", "right / wrong": "right/wrong"}
COLOUR_NAMES = {"true class": "tsne.colour_class", "right / wrong": "tsne.colour_right"}
# The columns a hovered dot shows: the colour group and the tooltip columns, named in the reader's
# language ("image" is the picture itself: the chart shows that column as an image).
COLUMNS = {"group": "tsne.col_group", "true": "tsne.col_true", "predicted": "tsne.col_predicted"}
PLOT = dict(x="x", y="y", color="group", x_title=" ", y_title=" ", colors_in_legend=[],
            x_axis_labels_visible=False)         # the legend is ours (legend_html): large, complete


# --------------------------------------------------------------------------- helpers
def _entry(ctx: AppContext, key: str | None, lang: str = DEFAULT):
    entries = {e.key: e for e in ctx.zoo.entries()}
    key = key or ctx.zoo.default()
    if key is None:
        raise Refusal(Text("tsne.no_model"))
    if key not in entries:
        raise Refusal(Text("tsne.unknown_model", key=key, choices=", ".join(entries)))
    return entries[key]


def _progress(progress, lang: str = DEFAULT) -> tsne.Progress:
    return (lambda f, text: progress(f, desc=say(lang, text))) if progress is not None else tsne.quiet


def get_map(ctx: AppContext, key: str | None, n, perplexity, progress=None, lang: str = DEFAULT) -> tsne_maps.TsneMap:
    """The map for a model choice: cached, shipped with the model, or computed now."""
    maps = ctx.maps
    entry = _entry(ctx, key, lang)
    n = number("tsne_points", n, tsne.DEFAULT_N)                 # limits: cnnlab.config.LIMITS
    perplexity = float(number("tsne_perplexity", perplexity, tsne.DEFAULT_PERPLEXITY))
    try:
        return maps.get(entry.path, entry.dataset, lambda: ctx.zoo.get(entry.key), n, perplexity,
                        progress=_progress(progress, lang))
    except (gr.Error, Refusal):
        raise
    except FileNotFoundError as err:
        raise Refusal(Text("tsne.file_missing", name=err.filename)) from err
    except Exception as err:                       # data missing, bad checkpoint: say so plainly
        raise Refusal(Text("tsne.map_failed", why=refusal_of(err).text)) from err


def star_name(kind: str, lang: str = DEFAULT) -> str:
    return tr(lang, f"tsne.star_{kind}")


def colour_map(classes, lang: str = DEFAULT) -> dict[str, str]:
    """Every group a plot can show, by its name in ``lang``, and its colour: a class keeps its
    colour in every language and view (the palette follows the class order, not the names)."""
    colours = {class_name(lang, str(c)): CLASS_COLORS[i % len(CLASS_COLORS)] for i, c in enumerate(classes)}
    return {**colours, tr(lang, "plots.right"): RIGHT, tr(lang, "plots.wrong"): WRONG,
            **{star_name(kind, lang): STAR_COLOR for kind in STARS}}


def _ordered(groups, classes, lang: str = DEFAULT) -> list[str]:
    present = set(groups)
    return [g for g in colour_map(classes, lang) if g in present]


def named_columns(frame: pd.DataFrame, lang: str = DEFAULT) -> pd.DataFrame:
    """The frame with the columns a hovered dot shows named in ``lang`` (English: as they are)."""
    return frame.rename(columns={col: tr(lang, key) for col, key in COLUMNS.items()})


def scatter_update(frame: pd.DataFrame, classes, lang: str = DEFAULT, pictures: bool = True):
    """The plot's new data, and the colour map naming exactly the groups on it.

    The colour map is sent in a second, separate update (``apply_colours``): the browser redraws
    the chart, and with it the colour scale, only when the colour map changes, and when data and
    colour map arrive together it may redraw with the old data (Gradio 6.31). A new group (a star,
    the right/wrong view, another data set's classes, another language) changes the colour map,
    so it gets a colour.
    """
    cmap = colour_map(classes, lang)
    colours = {g: cmap[g] for g in _ordered(frame["group"].unique(), classes, lang)}
    tooltip = [tr(lang, COLUMNS["true"]), tr(lang, COLUMNS["predicted"])] + (["image"] if pictures else [])
    return gr.ScatterPlot(value=named_columns(frame, lang), color=tr(lang, COLUMNS["group"]), tooltip=tooltip), \
        colours


def apply_colours(colours: dict | None):
    return gr.ScatterPlot(color_map=colours) if colours else gr.skip()


def legend_html(groups, classes, lang: str = DEFAULT) -> str:
    """Colour chips for the groups on a plot, in class order (large enough for a projector)."""
    cmap = colour_map(classes, lang)
    chips = "".join(
        f"<span style='display:inline-flex;align-items:center;gap:6px;margin:2px 14px 2px 0'>"
        f"<span style='width:14px;height:14px;border-radius:50%;border:3px solid {cmap[g]};"
        f"box-sizing:border-box'></span>{html.escape(g)}</span>"
        for g in _ordered(groups, classes, lang))
    label = html.escape(tr(lang, "tsne.legend"), quote=True)
    return f"<div class='tsne-legend' role='list' aria-label='{label}'>{chips}</div>"


def points(ctx: AppContext, m: tsne_maps.TsneMap, colour_by: str, pictures: bool, stars=(), lang: str = DEFAULT):
    """The map (and this user's stars): ScatterPlot update, its colour map, its legend."""
    images = ctx.maps.thumbnails(m) if pictures and m.n <= PICTURES_MAX else None
    frame = tsne_points_frame(m.coords, m.labels, m.preds, m.classes, COLOUR_MODES.get(colour_by, "class"),
                              images, lang=lang)
    span = float(np.ptp(m.coords[:, 0])) or 1.0
    rows = [star_rows(s["x"], s["y"], span, star_name(s["kind"], lang),
                      tr(lang, "tsne.star_predicted", name=class_name(lang, m.classes[s["k"]]), p=s["p"]))
            for s in stars]
    if rows:
        frame = pd.concat([frame, *rows], ignore_index=True)
    return (*scatter_update(frame, m.classes, lang, images is not None),
            legend_html(frame["group"].unique(), m.classes, lang))


def describe(m: tsne_maps.TsneMap, requested: int, lang: str = DEFAULT) -> str:
    """One line about the map: model, data, sample, accuracy, where it came from."""
    whole = Text("tsne.whole_set") if m.n < int(requested or 0) else ""
    made = Text("tsne.precomputed") if m.precomputed else Text("tsne.computed", seconds=m.seconds)
    return tr(lang, "tsne.describe", model=m.model, dataset=get_spec(m.dataset).title_text, n=m.n, whole=whole,
              per_class=m.n // max(len(m.classes), 1), perplexity=m.perplexity, accuracy=m.accuracy,
              wrong=int((m.preds != m.labels).sum()), made=made)


def place(ctx: AppContext, key, n, perplexity, colour_by, pictures, source, kind: str, stars, lang: str = DEFAULT):
    """Put one input (a sketch value or a PIL photo) on the map as a star of ``kind`` ("drawing" or
    "photo"). Returns the scatter, its colours, its legend, the explanation, the picture the model
    saw, the new stars."""
    m = get_map(ctx, key, n, perplexity, lang=lang)
    loaded = ctx.zoo.get(_entry(ctx, key, lang).key)
    if isinstance(source, dict) or source is None:        # a Draw-tab sketch
        pixels = sketch_pixels(source)
        if pixels is None or (255 - pixels.astype(int) > 30).sum() == 0:
            raise Refusal(Text("tsne.nothing_drawn"))
        source = source if loaded.spec.kind == "digits" else Image.fromarray(pixels).convert("RGB")
    prepared = prepare_for(loaded, source)
    if prepared is None:
        raise Refusal(Text("tsne.nothing_seen"))
    features, probs = tsne.embed_one(loaded.model, prepared.tensor, loaded.temperature)
    xy = m.place(features)[0]
    k = int(probs.argmax())
    counts = np.bincount(m.labels[m.nearest(xy, 10)], minlength=len(m.classes))
    top = int(counts.argmax())
    star = {"x": float(xy[0]), "y": float(xy[1]), "kind": kind, "k": k, "p": float(probs[k])}
    mine = [s for s in (stars or {}).get("stars", []) if (stars or {}).get("map") == m.ident] + [star]
    near, said = class_name(lang, m.classes[top]), class_name(lang, m.classes[k])
    text = tr(lang, "tsne.lands", what=Text(f"tsne.your_{kind}"), near=near, count=counts[top], said=said,
              p=float(probs[k]))
    if top != k:
        text += tr(lang, "tsne.between")
    elif counts[top] >= 8:
        text += tr(lang, "tsne.inside")
    else:
        text += tr(lang, "tsne.edge")
    seen = prepared.seen
    seen = np.kron(seen, np.ones((8, 8), np.uint8)) if seen.ndim == 2 else seen
    return (*points(ctx, m, colour_by, pictures, mine, lang), text, seen, {"map": m.ident, "stars": mine})


def snapshot_view(recorder: SnapshotRecorder, index, colour_by: str, progress=None, lang: str = DEFAULT):
    """The map at snapshot ``index`` of the recorded run: plot, colours, legend, caption."""
    rec, snap, coords = recorder.map_at(int(index or 0), _progress(progress, lang))
    frame = tsne_points_frame(coords, rec.labels, snap.preds.astype(np.int64), rec.classes,
                              COLOUR_MODES.get(colour_by, "class"), lang=lang)
    when = Text("tsne.after_seconds", seconds=snap.seconds) if snap.step else Text("tsne.before_any")
    if snap.step and snap.accuracy_text:
        progress_text = Text("tsne.step_epoch_accuracy", step=snap.step, epoch=snap.epoch, accuracy=snap.accuracy_text)
    else:
        progress_text = Text("tsne.step_epoch", step=snap.step, epoch=snap.epoch)
    number = next(i for i, s in enumerate(rec.snapshots) if s.uid == snap.uid) + 1
    caption = tr(lang, "tsne.snapshot_caption", number=number, total=len(rec.snapshots), model=rec.model,
                 dataset=get_spec(rec.dataset).title_text, when=when, progress=progress_text,
                 share=tsne.neighbour_agreement(coords, rec.labels))
    return (*scatter_update(frame, rec.classes, lang, pictures=False),
            legend_html(frame["group"].unique(), rec.classes, lang), caption)


def compare_view(ctx: AppContext, key, n, perplexity, progress=None, lang: str = DEFAULT):
    """Raw-pixel map and last-layer map of the same sample: two plots, their colours, a legend, a
    caption."""
    m = get_map(ctx, key, n, perplexity, progress, lang)
    raw = ctx.maps.raw(m, _progress(progress, lang))
    raw_score = tsne.neighbour_agreement(raw, m.labels)
    last_score = tsne.neighbour_agreement(m.coords, m.labels)
    verdict = Text("tsne.pulled_together" if last_score > raw_score else "tsne.not_separated")
    caption = tr(lang, "tsne.compare_caption", raw=raw_score, last=last_score, verdict=verdict)
    raw_plot, colours = scatter_update(tsne_points_frame(raw, m.labels, m.preds, m.classes, lang=lang), m.classes,
                                       lang, pictures=False)
    last_plot, _ = scatter_update(tsne_points_frame(m.coords, m.labels, m.preds, m.classes, lang=lang), m.classes,
                                  lang, pictures=False)
    return raw_plot, last_plot, colours, legend_html(list(colours), m.classes, lang), caption


# --------------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab, drawing=None) -> None:
    """The t-SNE tab; ``drawing`` is the Draw tab's canvas (None: this tab gets a small pad)."""
    recorder = ctx.recorder
    gr.Markdown(T("tsne.intro"))
    with gr.Row():
        model = gr.Dropdown(ctx.zoo.choices(), value=ctx.zoo.default(), label=T("tsne.model"),
                            info=T("tsne.model_info"), elem_id="tsne-model", scale=2,
                            min_width=300)        # a row of its own on a phone: the label is long
        size = gr.Slider(LIMITS["tsne_points"].low, LIMITS["tsne_points"].high, tsne.DEFAULT_N, step=500,
                         label=T("tsne.points"), info=T("tsne.points_info"), elem_id="tsne-n", scale=2)
        perplexity = gr.Slider(LIMITS["tsne_perplexity"].low, LIMITS["tsne_perplexity"].high,
                               tsne.DEFAULT_PERPLEXITY, step=5, label=T("tsne.perplexity"),
                               info=T("tsne.perplexity_info"), elem_id="tsne-perplexity", scale=2)
    with gr.Row():
        colour = gr.Radio([(T(COLOUR_NAMES[mode]), mode) for mode in COLOUR_MODES], value="true class",
                          label=T("tsne.colour_by"), elem_id="tsne-colour", scale=2)
        pictures = gr.Checkbox(True, label=T("tsne.pictures"), elem_id="tsne-pictures", scale=1)
        show = gr.Button(T("tsne.show"), variant="primary", elem_id="tsne-show", scale=1)
    with gr.Row():
        with gr.Column(scale=3, min_width=360):
            legend = gr.HTML(elem_id="tsne-legend")
            scatter = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted", "image"], height=560, label=T("tsne.map"),
                                     elem_id="tsne-scatter", buttons=["fullscreen", "export"])
            info = gr.Markdown(T("tsne.open_tab"), elem_id="tsne-info")
        with gr.Column(scale=1, min_width=260):
            gr.Markdown(T("tsne.yours"))
            sketch = drawing
            if sketch is None:                # no Draw tab in this build: a small pad of our own
                sketch = gr.Sketchpad(label=T("tsne.draw_here"), image_mode="L", type="numpy",
                                      canvas_size=(280, 280), fixed_canvas=True, layers=False,
                                      transforms=(), elem_id="tsne-sketch",
                                      brush=gr.Brush(default_size=11, colors=["#000000"],
                                                     color_mode="fixed"))
            place_drawing = gr.Button(T("tsne.place_drawing"), variant="primary", elem_id="tsne-place-drawing")
            photo = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"], height=200,
                             label=T("tsne.photo"), elem_id="tsne-photo")
            place_photo = gr.Button(T("tsne.place_photo"), elem_id="tsne-place-photo")
            placed = gr.Markdown(elem_id="tsne-placed")
            seen = gr.Image(label=T("tsne.seen"), interactive=False, height=180, buttons=[],
                            elem_id="tsne-seen", format="png")
            clear = gr.Button(T("tsne.clear"), size="sm", elem_id="tsne-clear")
    stars = gr.State({"map": None, "stars": []})
    colours = gr.State(None)                  # the main plot's colour map (see scatter_update)

    with gr.Accordion(T("tsne.history"), open=False, elem_id="tsne-history"):
        gr.Markdown(T("tsne.history_intro"))
        with gr.Row():
            history_status = gr.Markdown(T("tsne.no_run"), elem_id="tsne-history-status")   # filled on opening
            refresh = gr.Button(T("tsne.refresh"), size="sm", scale=0, elem_id="tsne-history-refresh")
        moment = gr.Slider(0, 1, 0, step=1, label=T("tsne.snapshot"), elem_id="tsne-history-slider")
        history_legend = gr.HTML(elem_id="tsne-history-legend")
        history_plot = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted"], height=480,
                                      label=T("tsne.snapshot_map"), elem_id="tsne-history-scatter")
        history_caption = gr.Markdown(elem_id="tsne-history-caption")
        history_colours = gr.State(None)
        with gr.Row():
            make_gif = gr.Button(T("tsne.make_gif"), elem_id="tsne-gif-button")
            gif = gr.File(label=T("tsne.gif"), elem_id="tsne-gif", interactive=False)

    with gr.Accordion(T("tsne.compare_title"), open=False, elem_id="tsne-compare"):
        gr.Markdown(T("tsne.compare_intro"))
        compare_btn = gr.Button(T("tsne.compare"), elem_id="tsne-compare-button")
        compare_legend = gr.HTML(elem_id="tsne-compare-legend")
        with gr.Row():
            raw_plot = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted"], height=420, label=T("tsne.raw_pixels"),
                                      elem_id="tsne-raw-scatter")
            last_plot = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted"], height=420, label=T("tsne.last_layer"),
                                       elem_id="tsne-last-scatter")
        compare_caption = gr.Markdown(elem_id="tsne-compare-caption")
        compare_colours = gr.State(None)

    # ---- handlers: a few lines each; the work is in cnnlab.core.maps and cnnlab.core.snapshots
    # (argument names = API names)
    # request (the last parameter of each handler) is filled in by Gradio, not an API input: the
    # reader's language, for every word the handler makes.
    @refusing
    def tsne_map(model, n, perplexity, colour_by, pictures, progress=gr.Progress(), request: gr.Request = None):
        lang = lang_of(request)
        m = get_map(ctx, model, n, perplexity, progress, lang)
        return (*points(ctx, m, colour_by, pictures, lang=lang), describe(m, n, lang), {"map": m.ident, "stars": []},
                "", None)

    @refusing
    def tsne_redraw(model, n, perplexity, colour_by, pictures, stars, request: gr.Request = None):
        lang = lang_of(request)
        m = get_map(ctx, model, n, perplexity, lang=lang)
        return points(ctx, m, colour_by, pictures, stars["stars"] if stars.get("map") == m.ident else [], lang)

    # The API's events take raw values (preprocess=False): every setting and picture is checked by
    # cnnlab.ui.inputs before use, images by their header before decoding.
    @refusing
    def tsne_place_drawing(model, n, perplexity, colour_by, pictures, drawing, stars, request: gr.Request = None):
        lang = lang_of(request)
        return place(ctx, model, n, perplexity, colour_by, flag(Text("tsne.pictures_flag"), pictures, True),
                     raw_drawing(drawing), "drawing", stars, lang)

    @refusing
    def tsne_place_photo(model, n, perplexity, colour_by, pictures, photo, stars, request: gr.Request = None):
        lang = lang_of(request)
        picture = raw_photo(photo)
        if picture is None:
            raise Refusal(Text("tsne.no_photo"))
        for note in picture.notes:
            gr.Info(say(lang, note))
        return place(ctx, model, n, perplexity, colour_by, flag(Text("tsne.pictures_flag"), pictures, True),
                     picture.image, "photo", stars, lang)

    @refusing
    def tsne_clear(model, n, perplexity, colour_by, pictures, request: gr.Request = None):
        lang = lang_of(request)
        m = get_map(ctx, model, n, perplexity, lang=lang)
        return (*points(ctx, m, colour_by, pictures, lang=lang), "", None, {"map": m.ident, "stars": []})

    def then_colours(event, plots, state):
        """Second step of every plot update: the colour map alone (see scatter_update)."""
        for plot in plots:
            event.success(apply_colours, state, plot, api_name=False, queue=False, show_progress="hidden")

    controls = [model, size, perplexity, colour, pictures]
    map_outputs = [scatter, colours, legend, info, stars, placed, seen]
    star_outputs = [scatter, colours, legend, placed, seen, stars]
    raw = dict(preprocess=False)
    then_colours(show.click(tsne_map, controls, map_outputs, api_name="tsne_map", show_progress_on=[info],
                            api_description="The t-SNE map of a model's last layer: one dot per test picture "
                            f"(n {LIMITS['tsne_points'].describe()}, perplexity "
                            f"{LIMITS['tsne_perplexity'].describe()}), coloured by class or by right/wrong.",
                            **raw),
                 [scatter], colours)
    then_colours(model.input(tsne_map, controls, map_outputs, api_name=False, show_progress_on=[info]),
                 [scatter], colours)
    for control in (colour, pictures):
        then_colours(control.input(tsne_redraw, controls + [stars], [scatter, colours, legend], api_name=False,
                                   show_progress="hidden"), [scatter], colours)
    then_colours(place_drawing.click(tsne_place_drawing, controls + [sketch, stars], star_outputs,
                                     api_name="tsne_place_drawing", show_progress_on=[placed],
                                     api_description="Place a drawing (PNG data URL, dark ink on white) on the "
                                     "map as a star, without moving the map; says which pictures it lands among.",
                                     **raw), [scatter], colours)
    then_colours(place_photo.click(tsne_place_photo, controls + [photo, stars], star_outputs,
                                   api_name="tsne_place_photo", show_progress_on=[placed],
                                   api_description="Place a photo on a clothing or flower model's map as a star, "
                                   "without moving the map.", **raw), [scatter], colours)
    then_colours(clear.click(tsne_clear, controls, star_outputs, api_name="tsne_clear",
                             api_description="The map again without this session's stars.", **raw),
                 [scatter], colours)

    @refusing
    def tsne_snapshots(request: gr.Request = None):
        rec = recorder.recording()
        count = len(rec.snapshots)
        return say(lang_of(request), rec.note), gr.Slider(minimum=0, maximum=max(count - 1, 1),
                                                          value=max(count - 1, 0), interactive=count > 1)

    @refusing
    def tsne_snapshot(index=0, colour_by="true class", progress=gr.Progress(), request: gr.Request = None):
        lang = lang_of(request)
        try:
            index = int(float(0 if index in (None, "") else index))     # past the last: the last one
        except (TypeError, ValueError, OverflowError):
            raise Refusal(Text("tsne.snapshot_number", sent=repr(str(index)[:20]))) from None
        return snapshot_view(recorder, index, colour_by, progress, lang)

    @refusing
    def tsne_gif(progress=gr.Progress(), request: gr.Request = None):
        lang = lang_of(request)
        rec, all_maps = recorder.all_maps(_progress(progress, lang))
        if len(all_maps) < 2:
            raise Refusal(Text("tsne.one_snapshot"))
        out = ctx.scratch.folder("tsne-") / f"tsne-{rec.model}-{rec.dataset}.gif"
        return str(animation_gif(rec, all_maps, out, colors=CLASS_COLORS, lang=lang))

    history_outputs = [history_plot, history_colours, history_legend, history_caption]
    refresh.click(tsne_snapshots, None, [history_status, moment], api_name="tsne_snapshots", queue=False,
                  api_description="How many maps of the class's training run were recorded (a note, and the "
                  "last snapshot's index for /tsne_snapshot).")
    then_colours(moment.release(tsne_snapshot, [moment, colour], history_outputs, api_name="tsne_snapshot",
                                show_progress_on=[history_caption], preprocess=False,
                                api_description="The map at one snapshot of the class's training run "
                                "(0 = before training)."), [history_plot], history_colours)
    make_gif.click(tsne_gif, None, gif, api_name="tsne_gif", show_progress_on=[gif],
                   api_description="An animated GIF of the map through the whole recorded training run.")

    @refusing
    def tsne_compare(model, n, perplexity, progress=gr.Progress(), request: gr.Request = None):
        return compare_view(ctx, model, n, perplexity, progress, lang_of(request))

    then_colours(compare_btn.click(tsne_compare, [model, size, perplexity],
                                   [raw_plot, last_plot, compare_colours, compare_legend, compare_caption],
                                   api_name="tsne_compare", show_progress_on=[compare_caption],
                                   api_description="The same test pictures mapped from raw pixels and from the "
                                   "last layer, with how often neighbours share a class in each.", **raw),
                 [raw_plot, last_plot], compare_colours)

    @refusing
    def refresh_choices(current, request: gr.Request = None):
        choices = ctx.zoo.choices(lang=lang_of(request))
        keys = [k for _, k in choices]
        return gr.Dropdown(choices=choices, value=current if current in keys else ctx.zoo.default())

    @refusing
    def tsne_open(model, n, perplexity, colour_by, pictures, stars, progress=gr.Progress(),
                  request: gr.Request = None):
        """Opening the tab: show the map, unless this user already sees the current one."""
        lang = lang_of(request)
        m = get_map(ctx, model, n, perplexity, progress, lang)
        if stars and stars.get("map") == m.ident:
            return (gr.skip(),) * len(map_outputs)
        return (*points(ctx, m, colour_by, pictures, lang=lang), describe(m, n, lang),
                {"map": m.ident, "stars": []}, "", None)

    for event in [tab.select] if isinstance(tab, gr.Tab) else [demo.load]:
        opened = event(refresh_choices, model, model, api_name=False, queue=False).then(
            tsne_open, controls + [stars], map_outputs, api_name=False, show_progress_on=[info])
        then_colours(opened, [scatter], colours)
        opened.then(tsne_snapshots, None, [history_status, moment], api_name=False, queue=False)
