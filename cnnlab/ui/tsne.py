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

from .. import maps as tsne_maps
from .. import tsne
from ..config import LIMITS
from ..datasets import get_spec
from ..plots import CLASS_COLORS, RIGHT, STAR_COLOR, WRONG, animation_gif, class_color_map, star_rows, tsne_points_frame
from ..preprocess import prepare_for, sketch_pixels
from ..snapshots import SnapshotRecorder
from .context import AppContext
from .inputs import drawing as raw_drawing
from .inputs import flag, number
from .inputs import photo as raw_photo

PICTURES_MAX = 3000          # above this many points the hover pictures are left out (data size)
STAR_DRAWING, STAR_PHOTO = "★ your drawing", "★ your photo"
TOOLTIP = ["true", "predicted", "image"]
COLOUR_MODES = {"true class": "class", "right / wrong": "right/wrong"}
INTRO = (
    "Each dot is one test picture. The network turns a picture into a list of numbers (its **last "
    "layer**); **t-SNE** squeezes those lists onto this page so that pictures the network finds "
    "alike land close together. Colour = the true class. Islands of one colour mean the network "
    "has learned to tell that class apart; dots inside another colour's island are the pictures it "
    "confuses. Hover a dot to see the picture.")
PLOT = dict(x="x", y="y", color="group", x_title=" ", y_title=" ", colors_in_legend=[],
            x_axis_labels_visible=False)         # the legend is ours (legend_html): large, complete


# --------------------------------------------------------------------------- helpers
def _entry(ctx: AppContext, key: str | None):
    entries = {e.key: e for e in ctx.zoo.entries()}
    key = key or ctx.zoo.default()
    if key is None:
        raise gr.Error("There is no model yet: train one in the Train tab, then come back.")
    if key not in entries:
        raise gr.Error(f"There is no model called {key!r}; choose one of: {', '.join(entries)}.")
    return entries[key]


def _progress(progress) -> tsne.Progress:
    return (lambda f, text: progress(f, desc=text)) if progress is not None else tsne.quiet


def get_map(ctx: AppContext, key: str | None, n, perplexity, progress=None) -> tsne_maps.TsneMap:
    """The map for a model choice: cached, shipped with the model, or computed now."""
    maps = ctx.maps
    entry = _entry(ctx, key)
    n = number("tsne_points", n, tsne.DEFAULT_N)                    # limits: cnnlab.config.LIMITS
    perplexity = float(number("tsne_perplexity", perplexity, tsne.DEFAULT_PERPLEXITY))
    try:
        return maps.get(entry.path, entry.dataset, lambda: ctx.zoo.get(entry.key), n, perplexity,
                        progress=_progress(progress))
    except gr.Error:
        raise
    except FileNotFoundError as err:
        raise gr.Error(f"The model file is missing ({err.filename}); pick another model.") from err
    except Exception as err:                       # data missing, bad checkpoint: say so plainly
        raise gr.Error(f"Could not make the map: {err}") from err


def colour_map(classes) -> dict[str, str]:
    return {**class_color_map(classes, CLASS_COLORS), "right": RIGHT, "wrong": WRONG,
            STAR_DRAWING: STAR_COLOR, STAR_PHOTO: STAR_COLOR}


def scatter_update(frame: pd.DataFrame, classes) -> tuple[gr.ScatterPlot, dict]:
    """The plot's new data, and the colour map naming exactly the groups on it.

    The colour map is sent in a second, separate update (``apply_colours``): the browser redraws
    the chart, and with it the colour scale, only when the colour map changes, and when data and
    colour map arrive together it may redraw with the old data (Gradio 6.31). A new group (a star,
    the right/wrong view, another data set's classes) changes the colour map, so it gets a colour.
    """
    cmap = colour_map(classes)
    return gr.ScatterPlot(value=frame), {g: cmap[g] for g in _ordered(frame["group"].unique(), classes)}


def apply_colours(colours: dict | None):
    return gr.ScatterPlot(color_map=colours) if colours else gr.skip()


def _ordered(groups, classes) -> list[str]:
    order = [str(c) for c in classes] + ["right", "wrong", STAR_DRAWING, STAR_PHOTO]
    present = set(groups)
    return [g for g in order if g in present]


def legend_html(groups, classes) -> str:
    """Colour chips for the groups on a plot, in class order (large enough for a projector)."""
    cmap = colour_map(classes)
    chips = "".join(
        f"<span style='display:inline-flex;align-items:center;gap:6px;margin:2px 14px 2px 0'>"
        f"<span style='width:14px;height:14px;border-radius:50%;border:3px solid {cmap[g]};"
        f"box-sizing:border-box'></span>{html.escape(g)}</span>"
        for g in _ordered(groups, classes))
    return f"<div class='tsne-legend' role='list' aria-label='Colours on the map'>{chips}</div>"


def points(ctx: AppContext, m: tsne_maps.TsneMap, colour_by: str, pictures: bool, stars=()):
    """The map (and this user's stars): ScatterPlot update, its colour map, its legend."""
    images = ctx.maps.thumbnails(m) if pictures and m.n <= PICTURES_MAX else None
    frame = tsne_points_frame(m.coords, m.labels, m.preds, m.classes, COLOUR_MODES.get(colour_by, "class"),
                              images)
    span = float(np.ptp(m.coords[:, 0])) or 1.0
    rows = [star_rows(s["x"], s["y"], span, s["label"], s["predicted"]) for s in stars]
    if rows:
        frame = pd.concat([frame, *rows], ignore_index=True)
    return (*scatter_update(frame, m.classes), legend_html(frame["group"].unique(), m.classes))


def describe(m: tsne_maps.TsneMap, requested: int) -> str:
    """One line about the map: model, data, sample, accuracy, where it came from."""
    wrong = int((m.preds != m.labels).sum())
    whole = " (the whole test set)" if m.n < int(requested or 0) else ""
    made = "precomputed" if m.precomputed else f"computed in {m.seconds:.0f} s"
    return (f"**{m.model}** on **{get_spec(m.dataset).title}** · {m.n:,} test pictures{whole}, "
            f"about {m.n // max(len(m.classes), 1):,} per class · perplexity {m.perplexity:g} · the model "
            f"gets **{m.accuracy:.1%}** of them right ({wrong:,} mistakes: colour by *right / wrong* "
            f"to find them) · {made}.")


def place(ctx: AppContext, key, n, perplexity, colour_by, pictures, source, label: str, stars):
    """Put one input (a sketch value or a PIL photo) on the map.
    Returns the scatter, its colours, its legend, the explanation, the picture the model saw, the
    new stars."""
    m = get_map(ctx, key, n, perplexity)
    loaded = ctx.zoo.get(_entry(ctx, key).key)
    if isinstance(source, dict) or source is None:        # a Draw-tab sketch
        pixels = sketch_pixels(source)
        if pixels is None or (255 - pixels.astype(int) > 30).sum() == 0:
            raise gr.Error("Nothing drawn yet: draw something in the Draw tab first, then press "
                           "'Place my drawing'.")
        source = source if loaded.spec.kind == "digits" else Image.fromarray(pixels).convert("RGB")
    prepared = prepare_for(loaded, source)
    if prepared is None:
        raise gr.Error("Nothing to see in that picture; draw or photograph something bigger.")
    features, probs = tsne.embed_one(loaded.model, prepared.tensor, loaded.temperature)
    xy = m.place(features)[0]
    k = int(probs.argmax())
    counts = np.bincount(m.labels[m.nearest(xy, 10)], minlength=len(m.classes))
    top = int(counts.argmax())
    star = {"x": float(xy[0]), "y": float(xy[1]), "label": label,
            "predicted": f"{m.classes[k]} ({probs[k]:.0%})"}
    mine = [s for s in (stars or {}).get("stars", []) if (stars or {}).get("map") == m.ident] + [star]
    what = label.removeprefix("★ ").capitalize()
    text = (f"### {what} lands among the **{m.classes[top]}** pictures\n"
            f"{counts[top]} of its 10 nearest neighbours on the map are {m.classes[top]}. "
            f"The model says **{m.classes[k]}** ({probs[k]:.0%} sure). ")
    if top != k:
        text += "Its neighbours and the model's answer differ: it sits between groups, where the network is unsure."
    elif counts[top] >= 8:
        text += "It sits well inside the group: the network sees it like those pictures."
    else:
        text += "It sits near the edge of the group."
    seen = prepared.seen
    seen = np.kron(seen, np.ones((8, 8), np.uint8)) if seen.ndim == 2 else seen
    return (*points(ctx, m, colour_by, pictures, mine), text, seen, {"map": m.ident, "stars": mine})


def snapshot_view(recorder: SnapshotRecorder, index, colour_by: str, progress=None):
    """The map at snapshot ``index`` of the recorded run: plot, colours, legend, caption."""
    try:
        rec, snap, coords = recorder.map_at(int(index or 0), _progress(progress))
    except LookupError as err:
        raise gr.Error(str(err), print_exception=False) from err
    frame = tsne_points_frame(coords, rec.labels, snap.preds.astype(np.int64), rec.classes,
                              COLOUR_MODES.get(colour_by, "class"))
    where = f"after {snap.seconds:.0f} s of training" if snap.step else "before any training"
    number = next(i for i, s in enumerate(rec.snapshots) if s.uid == snap.uid) + 1
    caption = (f"Snapshot {number} of {len(rec.snapshots)}: **{rec.model}** on {get_spec(rec.dataset).title}, "
               f"{where} (step {snap.step:,}, epoch {snap.epoch:.2f}"
               f"{', ' + snap.accuracy_text if snap.step else ''}). Of each picture's 10 nearest "
               f"neighbours, {tsne.neighbour_agreement(coords, rec.labels):.0%} share its class.")
    return (*scatter_update(frame, rec.classes), legend_html(frame["group"].unique(), rec.classes), caption)


def compare_view(ctx: AppContext, key, n, perplexity, progress=None):
    """Raw-pixel map and last-layer map of the same sample: two plots, their colours, a legend, a
    caption."""
    m = get_map(ctx, key, n, perplexity, progress)
    raw = ctx.maps.raw(m, _progress(progress))
    raw_score = tsne.neighbour_agreement(raw, m.labels)
    last_score = tsne.neighbour_agreement(m.coords, m.labels)
    verdict = ("the network pulled each class together into its own island." if last_score > raw_score
               else "the network has not (yet) separated the classes better than the pixels do.")
    caption = (f"Of each picture's 10 nearest neighbours, **{raw_score:.0%}** share its class in the raw "
               f"pixels and **{last_score:.0%}** in the last layer: {verdict}")
    raw_plot, colours = scatter_update(tsne_points_frame(raw, m.labels, m.preds, m.classes), m.classes)
    last_plot, _ = scatter_update(tsne_points_frame(m.coords, m.labels, m.preds, m.classes), m.classes)
    return raw_plot, last_plot, colours, legend_html(list(colours), m.classes), caption


# --------------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab, drawing=None) -> None:
    """The t-SNE tab; ``drawing`` is the Draw tab's canvas (None: this tab gets a small pad)."""
    recorder = ctx.recorder
    gr.Markdown(INTRO)
    with gr.Row():
        model = gr.Dropdown(ctx.zoo.choices(), value=ctx.zoo.default(), label="Model",
                            info="The data set comes with the model", elem_id="tsne-model", scale=2)
        size = gr.Slider(LIMITS["tsne_points"].low, LIMITS["tsne_points"].high, tsne.DEFAULT_N, step=500,
                         label="Test pictures on the map",
                         info="More points: a fuller map, but slower to compute", elem_id="tsne-n", scale=2)
        perplexity = gr.Slider(LIMITS["tsne_perplexity"].low, LIMITS["tsne_perplexity"].high,
                               tsne.DEFAULT_PERPLEXITY, step=5, label="Perplexity",
                               info="How many neighbours each point cares about", elem_id="tsne-perplexity",
                               scale=2)
    with gr.Row():
        colour = gr.Radio(list(COLOUR_MODES), value="true class", label="Colour by", elem_id="tsne-colour",
                          scale=2)
        pictures = gr.Checkbox(True, label="Show the picture when hovering a dot", elem_id="tsne-pictures",
                               scale=1)
        show = gr.Button("Show map", variant="primary", elem_id="tsne-show", scale=1)
    with gr.Row():
        with gr.Column(scale=3, min_width=360):
            legend = gr.HTML(elem_id="tsne-legend")
            scatter = gr.ScatterPlot(**PLOT, tooltip=TOOLTIP, height=560, label="t-SNE map",
                                     elem_id="tsne-scatter", buttons=["fullscreen", "export"])
            info = gr.Markdown("Open this tab to see the map.", elem_id="tsne-info")
        with gr.Column(scale=1, min_width=260):
            gr.Markdown("### Your drawing on the map\nDraw in the **Draw** tab, then press the button: "
                        "your drawing appears as a star, without moving the map.")
            sketch = drawing
            if sketch is None:                # no Draw tab in this build: a small pad of our own
                sketch = gr.Sketchpad(label="Draw here", image_mode="L", type="numpy",
                                      canvas_size=(280, 280), fixed_canvas=True, layers=False,
                                      transforms=(), elem_id="tsne-sketch",
                                      brush=gr.Brush(default_size=11, colors=["#000000"],
                                                     color_mode="fixed"))
            place_drawing = gr.Button("Place my drawing", variant="primary", elem_id="tsne-place-drawing")
            photo = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"], height=200,
                             label="…or a photo (for the clothing and flower models)", elem_id="tsne-photo")
            place_photo = gr.Button("Place my photo", elem_id="tsne-place-photo")
            placed = gr.Markdown(elem_id="tsne-placed")
            seen = gr.Image(label="What the model sees", interactive=False, height=180, buttons=[],
                            elem_id="tsne-seen", format="png")
            clear = gr.Button("Remove my stars", size="sm", elem_id="tsne-clear")
    stars = gr.State({"map": None, "stars": []})
    colours = gr.State(None)                  # the main plot's colour map (see scatter_update)

    with gr.Accordion("How it learned: the map during the class's training run", open=False,
                      elem_id="tsne-history"):
        gr.Markdown("While a model trains in the **Train** tab, the same 1,000 test pictures are "
                    "passed through it every few seconds. Slide to see how the map changes: at the "
                    "start the classes are mixed; as the network learns, they pull apart into islands. "
                    "Each map starts from the previous one, so dots move only as much as the network "
                    "changed its mind.")
        with gr.Row():
            history_status = gr.Markdown(recorder.recording().note, elem_id="tsne-history-status")
            refresh = gr.Button("Refresh", size="sm", scale=0, elem_id="tsne-history-refresh")
        moment = gr.Slider(0, 1, 0, step=1, label="Snapshot", elem_id="tsne-history-slider")
        history_legend = gr.HTML(elem_id="tsne-history-legend")
        history_plot = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted"], height=480,
                                      label="The map at this snapshot", elem_id="tsne-history-scatter")
        history_caption = gr.Markdown(elem_id="tsne-history-caption")
        history_colours = gr.State(None)
        with gr.Row():
            make_gif = gr.Button("Make an animated GIF of the whole run", elem_id="tsne-gif-button")
            gif = gr.File(label="Animated GIF", elem_id="tsne-gif", interactive=False)

    with gr.Accordion("Raw pixels vs the last layer: what did the network add?", open=False,
                      elem_id="tsne-compare"):
        gr.Markdown("The same test pictures mapped twice with the same t-SNE settings: on the left "
                    "from their raw pixels (no network at all), on the right from the network's last "
                    "layer.")
        compare_btn = gr.Button("Compare", elem_id="tsne-compare-button")
        compare_legend = gr.HTML(elem_id="tsne-compare-legend")
        with gr.Row():
            raw_plot = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted"], height=420, label="Raw pixels",
                                      elem_id="tsne-raw-scatter")
            last_plot = gr.ScatterPlot(**PLOT, tooltip=["true", "predicted"], height=420, label="Last layer",
                                       elem_id="tsne-last-scatter")
        compare_caption = gr.Markdown(elem_id="tsne-compare-caption")
        compare_colours = gr.State(None)

    # ---- handlers: a few lines each; the work is in cnnlab.maps and cnnlab.snapshots (argument names = API names)
    def tsne_map(model, n, perplexity, colour_by, pictures, progress=gr.Progress()):
        m = get_map(ctx, model, n, perplexity, progress)
        return (*points(ctx, m, colour_by, pictures), describe(m, n), {"map": m.ident, "stars": []}, "", None)

    def tsne_redraw(model, n, perplexity, colour_by, pictures, stars):
        m = get_map(ctx, model, n, perplexity)
        return points(ctx, m, colour_by, pictures, stars["stars"] if stars.get("map") == m.ident else [])

    # The API's events take raw values (preprocess=False): every setting and picture is checked by
    # cnnlab.ui.inputs before use, images by their header before decoding.
    def tsne_place_drawing(model, n, perplexity, colour_by, pictures, drawing, stars):
        return place(ctx, model, n, perplexity, colour_by, flag("Show pictures", pictures, True),
                     raw_drawing(drawing), STAR_DRAWING, stars)

    def tsne_place_photo(model, n, perplexity, colour_by, pictures, photo, stars):
        picture = raw_photo(photo)
        if picture is None:
            raise gr.Error("Add a photo first (upload, webcam or paste), then press 'Place my photo'.")
        for note in picture.notes:
            gr.Info(note)
        return place(ctx, model, n, perplexity, colour_by, flag("Show pictures", pictures, True), picture.image,
                     STAR_PHOTO, stars)

    def tsne_clear(model, n, perplexity, colour_by, pictures):
        m = get_map(ctx, model, n, perplexity)
        return (*points(ctx, m, colour_by, pictures), "", None, {"map": m.ident, "stars": []})

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

    def tsne_snapshots():
        rec = recorder.recording()
        count = len(rec.snapshots)
        return rec.note, gr.Slider(minimum=0, maximum=max(count - 1, 1), value=max(count - 1, 0),
                                   interactive=count > 1)

    def tsne_snapshot(index=0, colour_by="true class", progress=gr.Progress()):
        try:
            index = int(float(0 if index in (None, "") else index))     # past the last: the last one
        except (TypeError, ValueError, OverflowError):
            raise gr.Error(f"Snapshot must be a whole number, 0 for the first; you sent {str(index)[:20]!r}.",
                           print_exception=False) from None
        return snapshot_view(recorder, index, colour_by, progress)

    def tsne_gif(progress=gr.Progress()):
        try:
            rec, all_maps = recorder.all_maps(_progress(progress))
        except LookupError as err:
            raise gr.Error(str(err), print_exception=False) from err
        if len(all_maps) < 2:
            raise gr.Error("Only one snapshot so far: let the run go on for a few seconds, then try again.")
        out = ctx.scratch.folder("tsne-") / f"tsne-{rec.model}-{rec.dataset}.gif"
        return str(animation_gif(rec, all_maps, out, colors=CLASS_COLORS))

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

    def tsne_compare(model, n, perplexity, progress=gr.Progress()):
        return compare_view(ctx, model, n, perplexity, progress)

    then_colours(compare_btn.click(tsne_compare, [model, size, perplexity],
                                   [raw_plot, last_plot, compare_colours, compare_legend, compare_caption],
                                   api_name="tsne_compare", show_progress_on=[compare_caption],
                                   api_description="The same test pictures mapped from raw pixels and from the "
                                   "last layer, with how often neighbours share a class in each.", **raw),
                 [raw_plot, last_plot], compare_colours)

    def refresh_choices(current):
        keys = [k for _, k in ctx.zoo.choices()]
        return gr.Dropdown(choices=ctx.zoo.choices(), value=current if current in keys else ctx.zoo.default())

    def tsne_open(model, n, perplexity, colour_by, pictures, stars, progress=gr.Progress()):
        """Opening the tab: show the map, unless this user already sees the current one."""
        m = get_map(ctx, model, n, perplexity, progress)
        if stars and stars.get("map") == m.ident:
            return (gr.skip(),) * len(map_outputs)
        return (*points(ctx, m, colour_by, pictures), describe(m, n), {"map": m.ident, "stars": []}, "", None)

    for event in [tab.select] if isinstance(tab, gr.Tab) else [demo.load]:
        opened = event(refresh_choices, model, model, api_name=False, queue=False).then(
            tsne_open, controls + [stars], map_outputs, api_name=False, show_progress_on=[info])
        then_colours(opened, [scatter], colours)
        opened.then(tsne_snapshots, None, [history_status, moment], api_name=False, queue=False)
