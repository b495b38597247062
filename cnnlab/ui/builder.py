"""The Train tab's network builder: a student's own layer stack, edited row by row (usable on a
phone), with every layer's output shape and parameters, the total, and a sentence for a stack
that cannot work. The stack lives in the student's gr.State; the server checks it again when a
run starts (cnnlab.core.nets.builder, cnnlab.core.checks.check_train).

Every word is in cnnlab/i18n (section "builder"); what a handler makes is in the reader's language.
The table and the layer picker are drawn when the editor is opened (``expand``), in that language.
"""
from __future__ import annotations

import html

import gradio as gr

from ..config import TrainConfig
from ..core import checkpoints, codegen
from ..core.datasets import get_spec
from ..core.nets import builder, export
from ..core.nets.builder import BUILT, MAX_LAYERS, TEMPLATES, BuildError, normalize, summarize, template, title
from ..i18n import DEFAULT, Refusal, Text, refusal_of, say, tr
from .common import refusing
from .lang import T, lang_of

START = "cnn"                  # the stack a student starts with


def template_choices() -> list[tuple]:
    return [(T(f"models.{name}"), name) for name in TEMPLATES] + [(T("builder.empty"), "")]


def start_stack(name: str) -> list[dict]:
    return template(name) if name else [{"type": "flatten"}]


def row_choices(layers: list[dict], lang: str = DEFAULT) -> list[tuple[str, int]]:
    rows = [(f"{i + 1}. {_title(layer, lang)}", i) for i, layer in enumerate(layers)]
    return rows + [(f"{len(layers) + 1}. ({tr(lang, 'builder.end')})", len(layers))]


def _title(layer: dict, lang: str = DEFAULT) -> str:
    try:
        return title(normalize([layer])[0]).in_(lang)
    except BuildError:
        return str(layer.get("type"))


def table_html(layers: list[dict], dataset: str, lang: str = DEFAULT) -> str:
    """The stack as a table: every layer's output shape and parameters, the total, and either
    "can train" or the sentence that says which layer cannot work and why."""
    spec = get_spec(dataset)
    s = summarize(layers, spec)
    cell = "padding:2px 6px;border-bottom:1px solid var(--border-color-primary)"
    num = cell + ";text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap"
    rows = [f"<tr><td style='{cell}'></td><td style='{cell}'>{tr(lang, 'builder.input')}</td>"
            f"<td style='{num}'>{builder.shape_text(s.input_shape)}</td><td style='{num}'></td></tr>"]
    fitted = {r.index: r for r in s.rows}
    for i, layer in enumerate(list(layers) + [None]):
        r = fitted.get(i)
        if layer is None and r is None:
            break
        name = r.title.in_(lang) if r is not None else _title(layer, lang)
        shape = builder.shape_text(r.shape) if r is not None else "—"
        params = f"{r.params:,}" if r is not None else "—"
        bad = r is None
        style = " style='color:var(--error-text-color, #c00)'" if bad else ""
        rows.append(f"<tr{style} data-row='{i + 1}'><td style='{cell}'>{i + 1 if layer is not None else ''}</td>"
                    f"<td style='{cell}'>{html.escape(name)}</td><td style='{num}'>{shape}</td>"
                    f"<td style='{num}'>{params}</td></tr>")
    total = tr(lang, "builder.total")
    rows.append(f"<tr style='font-weight:700'><td style='{cell}'></td><td style='{cell}'>{total}</td>"
                f"<td style='{cell}'></td><td style='{num}' id='builder-total'>{s.params:,}</td></tr>")
    verdict = (tr(lang, "builder.ok", params=s.params, macs=s.macs) if s.ok
               else tr(lang, "builder.problem", problem=say(lang, s.problem)))
    colour = "var(--color-green-600, #080)" if s.ok else "var(--error-text-color, #c00)"
    head = "".join(f"<th style='{cell};text-align:left'>{tr(lang, 'builder.' + k)}</th>"
                   for k in ("col_n", "col_layer", "col_shape", "col_params"))
    return (f"<div style='overflow-x:auto'><table style='width:100%;border-collapse:collapse;font-size:0.95em'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
            f"<p id='builder-verdict' data-ok='{int(s.ok)}' style='color:{colour};font-weight:600;margin:6px 0'>"
            f"{html.escape(verdict)}</p>")


def layer_from(kind: str, size, kernel, padding, stride, pool, p, old: dict | None = None) -> dict:
    """A layer dict from the editor's fields (only the ones its type has); an edited layer keeps
    settings the editor does not show (a convolution's bias)."""
    layer = dict(old) if old and old.get("type") == kind else {"type": kind}
    if kind == "conv":
        layer.update(channels=size, kernel=kernel, padding=padding, stride=stride)
    elif kind == "dense":
        layer.update(units=size)
    elif kind in ("maxpool", "avgpool"):
        layer.update(size=pool)
    elif kind == "dropout":
        layer.update(p=p)
    return normalize([layer])[0]         # a setting out of range: BuildError with the sentence


def edit(action: str, layers: list[dict], row, kind, size, kernel, padding, stride, pool, p) -> tuple[list, int]:
    """The stack after one editor action and the row to select next; BuildError or ValueError with
    a sentence (a Text) for an action that cannot be done."""
    layers = [dict(layer) for layer in layers]
    i = int(row) if row is not None else len(layers)
    if action == "add":
        if len(layers) >= MAX_LAYERS:
            raise ValueError(Text("builder.too_many", most=MAX_LAYERS))
        at = min(i + 1, len(layers))
        layers.insert(at, layer_from(kind, size, kernel, padding, stride, pool, p))
        return layers, at
    if not 0 <= i < len(layers):
        raise ValueError(Text("builder.nothing" if not layers else "builder.pick_row"))
    if action == "change":
        layers[i] = layer_from(kind, size, kernel, padding, stride, pool, p, layers[i])
        return layers, i
    if action == "remove":
        del layers[i]
        return layers, min(i, max(len(layers) - 1, 0))
    j = i - 1 if action == "up" else i + 1
    if not 0 <= j < len(layers):
        raise ValueError(Text("builder.top" if action == "up" else "builder.bottom"))
    layers[i], layers[j] = layers[j], layers[i]
    return layers, j


def fields_for(kind: str) -> dict:
    """Which fields a layer type has (the others are hidden)."""
    return {"size": kind in ("conv", "dense"), "kernel": kind == "conv", "padding": kind == "conv",
            "stride": kind == "conv", "pool": kind in ("maxpool", "avgpool"), "p": kind == "dropout"}


def build(ctx, dataset: gr.Dropdown, model: gr.Dropdown) -> dict:
    """The editor (inside an accordion). Returns {"layers": the per-user gr.State with the stack,
    "train": the editor's own Train button} for the Train tab to wire."""
    first = start_stack(START)
    with gr.Accordion(T("builder.section"), open=False, elem_id="builder") as accordion:
        gr.Markdown(T("builder.intro"))
        with gr.Row():
            tmpl = gr.Dropdown(template_choices(), value=START, label=T("builder.template"),
                               elem_id="builder-template", scale=3, min_width=160)
            load = gr.Button(T("builder.load"), elem_id="builder-load", scale=1, min_width=100)
        # Drawn in the reader's language when the editor opens (see ``show``).
        table = gr.HTML("", elem_id="builder-table")
        row = gr.Dropdown([], value=None, label=T("builder.row"), elem_id="builder-row")
        kind = gr.Dropdown([(T(f"builder.types.{t}"), t) for t in builder.TYPES], value=first[0]["type"],
                           label=T("builder.type"), elem_id="builder-type")
        with gr.Row():
            size = gr.Number(16, label=T("builder.size_conv"), precision=0, minimum=1, maximum=builder.MAX_UNITS,
                             elem_id="builder-size", min_width=90)
            kernel = gr.Dropdown(list(range(1, builder.MAX_KERNEL + 1)), value=5, label=T("builder.kernel"),
                                 elem_id="builder-kernel", min_width=90)
            padding = gr.Dropdown(list(range(0, builder.MAX_PADDING + 1)), value=2, label=T("builder.padding"),
                                  elem_id="builder-padding", min_width=90)
            stride = gr.Dropdown(list(range(1, builder.MAX_STRIDE + 1)), value=1, label=T("builder.stride"),
                                 elem_id="builder-stride", min_width=90)
            pool = gr.Dropdown(list(range(2, builder.MAX_POOL + 1)), value=2, label=T("builder.pool"),
                               visible=False, elem_id="builder-pool", min_width=90)
            p = gr.Slider(0, builder.MAX_DROPOUT, value=0.25, step=0.05, label=T("builder.p"), visible=False,
                          elem_id="builder-p", min_width=160)
        with gr.Row():
            buttons = {a: gr.Button(T(f"builder.{a}"), elem_id=f"builder-{a}", size="sm", min_width=80)
                       for a in ("add", "change", "remove", "up", "down")}
        train = gr.Button(T("builder.train"), variant="primary", elem_id="builder-train")
    layers = gr.State(first)
    fields = [size, kernel, padding, stride, pool, p]

    @refusing
    def show_fields(k, request: gr.Request = None):
        visible = fields_for(k)
        label = tr(lang_of(request), "builder.size_dense" if k == "dense" else "builder.size_conv")
        return [gr.Number(visible=visible["size"], label=label)] + [
            gr.update(visible=visible[name]) for name in ("kernel", "padding", "stride", "pool", "p")]

    def fill(stack, i):
        """The fields show the picked layer's settings (so Change edits it)."""
        if i is None or not 0 <= int(i) < len(stack):
            return [gr.skip()] * (1 + len(fields))
        layer = normalize([stack[int(i)]])[0]
        values = {"size": layer.get("channels", layer.get("units")), "kernel": layer.get("kernel"),
                  "padding": layer.get("padding"), "stride": layer.get("stride"), "pool": layer.get("size"),
                  "p": layer.get("p")}
        return [layer["type"]] + [gr.skip() if values[n] is None else values[n]
                                  for n in ("size", "kernel", "padding", "stride", "pool", "p")]

    def render(stack, data, i, lang=DEFAULT):
        """Table, row picker and the Model dropdown switched to the built network."""
        custom = get_spec(data).kind != "photo"
        return (stack, table_html(stack, data, lang), gr.Dropdown(choices=row_choices(stack, lang), value=i),
                gr.Dropdown(value=BUILT) if custom else gr.skip())

    @refusing
    def show(stack, data, i, request: gr.Request = None):
        """The editor opened: its table and layer picker in the reader's language."""
        lang = lang_of(request)
        at = 0 if i is None else i
        return table_html(stack, data, lang), gr.Dropdown(choices=row_choices(stack, lang), value=at)

    def do(action):
        @refusing
        def handler(stack, data, i, k, size, kernel, padding, stride, pool, p, request: gr.Request = None):
            lang = lang_of(request)
            try:
                new, at = edit(action, stack, i, k, size, kernel, padding, stride, pool, p)
            except (BuildError, ValueError) as err:
                gr.Warning(say(lang, err.args[0] if err.args else err))
                return [gr.skip()] * 4
            return render(new, data, at, lang)
        return handler

    outputs = [layers, table, row, model]
    for action, button in buttons.items():
        button.click(do(action), [layers, dataset, row, kind] + fields, outputs, queue=False, api_name=False)
    @refusing
    def load_template(name, data, request: gr.Request = None):
        return render(start_stack(name), data, 0, lang_of(request))

    load.click(load_template, [tmpl, dataset], outputs,
               queue=False, api_name=False).then(fill, [layers, row], [kind] + fields, queue=False, api_name=False)
    accordion.expand(show, [layers, dataset, row], [table, row], queue=False, api_name=False)
    row.input(fill, [layers, row], [kind] + fields, queue=False, api_name=False)
    kind.change(show_fields, kind, fields, queue=False, api_name=False)

    @refusing
    def redraw(stack, data, request: gr.Request = None):
        return table_html(stack, data, lang_of(request))

    dataset.change(redraw, [layers, dataset], table, queue=False, api_name=False)
    with gr.Accordion(T("builder.code_section"), open=False, elem_id="code-section"):
        gr.Markdown(T("builder.code_intro"))
        code_btn = gr.Button(T("builder.code_show"), elem_id="code-show")
        code = gr.Code(language="python", label=T("builder.code_label"), interactive=False, visible=False,
                       elem_id="code-view")
        code_file = gr.DownloadButton(T("builder.code_download"), visible=False, elem_id="code-download")
        gr.Markdown(T("builder.onnx_info"))
        onnx_btn = gr.Button(T("builder.onnx_make"), elem_id="onnx-make")
        onnx_file = gr.DownloadButton(T("builder.onnx_download"), visible=False, elem_id="onnx-download")

    @refusing
    def train_export_onnx(request: gr.Request = None):
        path = ctx.job.state().latest
        if not path:
            raise Refusal(Text("builder.onnx_none"))
        loaded = checkpoints.load(path)
        name = f"cnnlab-{loaded.dataset}-{loaded.model_name}.onnx"
        out = export.to_onnx(loaded, ctx.scratch.folder("onnx-") / name)
        return gr.DownloadButton(value=str(out), visible=True)

    onnx_btn.click(train_export_onnx, None, onnx_file, api_name="train_export_onnx", concurrency_limit=1,
                   show_progress="minimal", api_description="The latest run as an ONNX file: normalised "
                   "pictures in, class probabilities out (class names and normalisation in its metadata).")
    return {"layers": layers, "train": train, "code_btn": code_btn, "code": code, "code_file": code_file}


def wire_code(ctx, editor: dict, controls: list, make_config) -> None:
    """The script of the settings in ``controls`` (make_config's arguments), shown and offered as a
    file. Called by the Train tab once its controls exist."""

    d = TrainConfig()

    @refusing
    def train_code(dataset: str = d.dataset, model: str = d.model, optimizer: str = d.optimizer,
                   lr: float = d.lr, batch_size: int = d.batch_size, epochs: int = d.epochs,
                   time_budget_s: float = d.time_budget_s, train_size: int = d.train_size,
                   augment: bool = d.augment, layers: list | None = None, request: gr.Request = None):
        lang = lang_of(request)
        try:
            config = make_config(dataset, model, optimizer, lr, batch_size, epochs, time_budget_s, train_size,
                                 augment, layers, lang=lang)
            text = codegen.script(config)
        except (codegen.CodegenError, BuildError, KeyError) as err:       # each says what to do
            raise refusal_of(err) from None
        path = ctx.scratch.folder("code-") / codegen.script_name(config)
        path.write_text(text, encoding="utf-8")     # a Chinese Windows would write GBK
        return gr.Code(text, visible=True), gr.DownloadButton(value=str(path), visible=True)

    editor["code_btn"].click(train_code, controls, [editor["code"], editor["code_file"]], api_name="train_code",
                             concurrency_limit=4, show_progress="minimal",
                             api_description="A standalone PyTorch script (torchvision loaders, --dry-run) that "
                             "trains these settings' network the same way, and the file to download.")
