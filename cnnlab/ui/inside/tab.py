"""The Inside tab's layout and handlers: the canvas and the walk, the opened map, and the three
folding panels (filters, live, photo). What the handlers return is built in ``walk_view``,
``detail_view`` and ``panels``.

Per user: only the opened map ("stage:channel:row:col", a few bytes in the picker component)
and the live view's last version (an int in ``gr.State``). Shared: the zoo's models and
``ctx.live`` / ``ctx.patches`` (locked, read-only for handlers).
"""
from __future__ import annotations

import gradio as gr

from ...i18n import DEFAULT, Text
from ...lessons import inside as core
from ..canvas import DrawingCanvas
from ..common import refusing
from ..context import AppContext
from ..draw import settings_js
from ..inputs import drawing as raw_drawing
from ..inputs import flag
from ..lang import T, lang_of, texts
from .detail_view import detail_html
from .inputs import drawing_datasets, load_model, parse_pick, photo_datasets, prepare_drawing
from .panels import LiveRenderer, filters_html, photo_html
from .style import CSS, DETAIL_JS, PICK_JS, WALK_CSS
from .text import note
from .walk_view import walk_html

EMPTY, EMPTY_DETAIL, PHOTO_EMPTY = Text("inside.empty"), Text("inside.empty_detail"), Text("inside.photo_empty")
# The live walk in the browser (cnnlab/ui/web/inside.js, walk.js): every layer's maps and the
# multiply-and-add at a tapped pixel, from the engine, while the pen moves; the server's walk and
# opened map (/inside_show, /inside_open) are hidden while the browser answers.
WEB_IDS = {"walk": "inside-web", "server": ["inside-layers", "inside-detail"]}


def live_options() -> dict:
    return {"module": "inside.js", "texts": texts("inside"), "palette": core.PALETTE.tolist(), "ids": WEB_IDS}


def show(ctx: AppContext, drawing, model_key: str | None, one_scale: bool, pick: str | None,
         lang: str = DEFAULT):
    """One stroke: the whole walk, and the opened map (if any) for the new drawing."""
    loaded = load_model(ctx, model_key, drawing_datasets())
    chosen = parse_pick(pick)
    prepared = prepare_drawing(loaded, drawing)
    if prepared is None:
        return note(EMPTY, lang), note(EMPTY_DETAIL, lang)
    walk = core.walk(loaded.model, prepared.tensor, loaded.temperature)
    detail = detail_html(loaded, walk, chosen, bool(one_scale), lang) if chosen else note(EMPTY_DETAIL, lang)
    return walk_html(loaded, prepared, walk, bool(one_scale), chosen, lang), detail


def open_map(ctx: AppContext, drawing, model_key: str | None, one_scale: bool, pick: str | None,
             lang: str = DEFAULT) -> str:
    """A click on a map (or on a pixel of the opened map): the opened map alone."""
    loaded = load_model(ctx, model_key, drawing_datasets())
    chosen = parse_pick(pick)
    prepared = prepare_drawing(loaded, drawing)
    if prepared is None or chosen is None:
        return note(EMPTY_DETAIL, lang)
    return detail_html(loaded, core.walk(loaded.model, prepared.tensor, loaded.temperature), chosen,
                       bool(one_scale), lang)


def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab, drawing=None) -> dict:
    """The Inside tab. ``drawing``: the Draw tab's canvas (a DrawingCanvas), to copy from; None
    when the Draw tab is not in the lesson."""
    cache, renderer = ctx.patches, LiveRenderer(ctx.live)
    with gr.Column(elem_id="inside-tab"):
        gr.Markdown(T("inside.intro"), elem_id="inside-intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                canvas = DrawingCanvas(label=T("inside.canvas"), elem_id="inside-sketch", live=live_options())
                use_draw = gr.Button(T("inside.use_draw"), elem_id="inside-use-draw", size="sm") \
                    if drawing is not None else None
                model = gr.Dropdown(ctx.zoo.choices(drawing_datasets()), value=ctx.zoo.default(drawing_datasets()),
                                    label=T("inside.model"), info=T("inside.model_info"), elem_id="inside-model",
                                    allow_custom_value=True)
                one_scale = gr.Checkbox(False, label=T("inside.one_scale"), info=T("inside.one_scale_info"),
                                        elem_id="inside-one-scale")
                detail = gr.HTML(note(EMPTY_DETAIL), elem_id="inside-detail", css_template=CSS,
                                 js_on_load=DETAIL_JS)
            with gr.Column(scale=7, min_width=300):
                gr.HTML("<div class='wl-detail-box'></div><div class='ins ins-walk wl-root'></div>",
                        elem_id="inside-web", css_template=CSS + WALK_CSS, container=False, js_on_load=None)
                layers = gr.HTML(note(EMPTY), elem_id="inside-layers", css_template=CSS, js_on_load=None)
                picker = gr.HTML("", html_template="<span hidden></span>", js_on_load=PICK_JS,
                                 elem_id="inside-pick", container=False, apply_default_css=False)
        with gr.Accordion(T("inside.filters_title"), open=False, elem_id="inside-filters-box") as filters_box:
            filters = gr.HTML("", elem_id="inside-filters", css_template=CSS, js_on_load=None)
        with gr.Accordion(T("inside.live_title"), open=False, elem_id="inside-live-box") as live_box:
            live = gr.HTML(renderer.html()[1], elem_id="inside-live", css_template=CSS, js_on_load=None)
        with gr.Accordion(T("inside.photo_title"), open=False, elem_id="inside-photo-box"):
            with gr.Row(equal_height=False):
                photo = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"],
                                 label=T("inside.photo_input"), elem_id="inside-photo", height=260)
                with gr.Column():
                    photo_model = gr.Dropdown(ctx.zoo.choices(photo_datasets()),
                                              value=ctx.zoo.default(photo_datasets()),
                                              label=T("inside.photo_model"), elem_id="inside-photo-model",
                                              allow_custom_value=True)
            photo_out = gr.HTML(note(PHOTO_EMPTY), elem_id="inside-photo-out", css_template=CSS,
                                js_on_load=None)
    live_seen = gr.State(-1)
    filters_open = gr.State(False)
    timer = gr.Timer(1.0, active=False)          # ticks only while the live view is open

    # argument names = the API's parameter names
    # request: filled in by Gradio (not an API input), for the reader's language. The drawing
    # events take raw values (preprocess=False) so that a bad drawing or setting is refused in
    # that language (cnnlab.ui.inputs), as in the Draw tab.
    def checked(drawing, one_scale):
        return raw_drawing(drawing), flag(Text("inside.one_scale"), one_scale)

    @refusing
    def on_show(drawing, model, one_scale=False, opened="", request: gr.Request = None):
        lang = lang_of(request)
        sketch, one_scale = checked(drawing, one_scale)
        return show(ctx, sketch, model, one_scale, opened, lang)

    @refusing
    def on_open(drawing, model, one_scale=False, opened="", request: gr.Request = None):
        lang = lang_of(request)
        sketch, one_scale = checked(drawing, one_scale)
        return open_map(ctx, sketch, model, one_scale, opened, lang)

    @refusing
    def on_filters(model, request: gr.Request = None):
        return filters_html(ctx, cache, model, lang_of(request))

    @refusing
    def on_tick(seen, request: gr.Request = None):
        version, text = renderer.html(lang_of(request))
        if version == seen:
            return gr.skip(), seen
        return text, version

    @refusing
    def on_photo(photo, model, request: gr.Request = None):
        return photo_html(ctx, photo, model, lang_of(request))

    shared = dict(show_progress="hidden", trigger_mode="always_last", concurrency_limit=8,
                  concurrency_id="inside", preprocess=False)
    inputs = [canvas, model, one_scale, picker]
    # .input: the canvas asks the server only when the browser does not answer (see canvas.py).
    canvas.input(on_show, inputs, [layers, detail], api_name="inside_show",
                  api_description="Every layer of the network for a drawing (a PNG data URL, dark ink on "
                  "white) and the opened map ('stage:channel:row:col' or empty), as HTML.", **shared)
    for control in (model, one_scale):
        control.change(on_show, inputs, [layers, detail], api_name=False, **shared)
    picker.change(on_open, inputs, detail, api_name="inside_open",
                  api_description="The opened map: large, its kernel and the multiply-and-add at the pixel.",
                  **shared)
    filters_box.expand(on_filters, model, filters, api_name="inside_filters", concurrency_limit=2,
                       concurrency_id="inside-filters", show_progress="minimal",
                       api_description="The first layer's filters of a model, each with the test patches "
                       "that excite it most, as HTML.")
    filters_box.collapse(lambda: False, None, filters_open, api_name=False, queue=False)
    filters_box.expand(lambda: True, None, filters_open, api_name=False, queue=False)
    @refusing
    def on_model_filters(is_open, key, request: gr.Request = None):
        return on_filters(key, request) if is_open else gr.skip()

    model.change(on_model_filters, [filters_open, model], filters,
                 api_name=False, concurrency_limit=2, concurrency_id="inside-filters", show_progress="minimal")
    live_box.expand(lambda: gr.Timer(active=True), None, timer, api_name=False, queue=False)
    live_box.collapse(lambda: gr.Timer(active=False), None, timer, api_name=False, queue=False)
    # queue=False: a tick is one short POST answered at once (the shared render, or nothing new),
    # not a queue join and an event stream per viewer and second.
    timer.tick(on_tick, live_seen, [live, live_seen], api_name="inside_live", queue=False, show_progress="hidden",
               api_description="The class's training run seen from inside (first-layer filters, the maps "
               "of a fixed test picture), as HTML.")
    photo.change(on_photo, [photo, photo_model], photo_out, api_name="inside_photo", concurrency_limit=2,
                 concurrency_id="inside-photo", show_progress="minimal",
                 api_description="Early and late channels of the transfer model on a photo, as HTML.")
    photo_model.change(on_photo, [photo, photo_model], photo_out, api_name=False, concurrency_limit=2,
                       concurrency_id="inside-photo", show_progress="minimal")
    if use_draw is not None:
        use_draw.click(lambda d: d, drawing, canvas, api_name=False, queue=False)

    @refusing
    def refresh(request: gr.Request = None):
        lang = lang_of(request)
        return gr.Dropdown(choices=ctx.zoo.choices(drawing_datasets(), lang)), \
            gr.Dropdown(choices=ctx.zoo.choices(photo_datasets(), lang))
    model.focus(refresh, None, [model, photo_model], api_name=False, queue=False)

    @refusing
    def start(request: gr.Request = None):
        """A new page: the model lists and the empty views in the reader's language."""
        lang = lang_of(request)
        return (*refresh(request), note(EMPTY, lang), note(EMPTY_DETAIL, lang), note(PHOTO_EMPTY, lang),
                renderer.html(lang)[1])
    demo.load(start, None, [model, photo_model, layers, detail, photo_out, live], api_name=False, queue=False)
    to_page = settings_js("inside", ("model",))            # the chosen model reaches inside.js, no request
    demo.load(None, model, None, js=to_page)
    model.change(None, model, None, js=to_page)
    return {"canvas": canvas, "model": model, "layers": layers, "detail": detail, "picker": picker}
