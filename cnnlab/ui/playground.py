"""Playground tab: every student trains their own tiny network on toy data, live on their phone.

The course's first lessons as one-click presets (fit a curve, separate two clouds, race four
optimizers) beside TensorFlow Playground's data sets and settings. Each student's network lives in
their own ``gr.State`` (cnnlab.lessons.playground.Playground: a few kB). Play starts one streaming event
per student (an async generator, ``play_loop``): every ``TICK_S`` it runs ``steps per frame`` steps
(<= 25 and <= 50 ms; up to 4x that when a frame comes late, so a busy server shows fewer frames,
not slower learning) and yields one frame: a 40x40 PNG of the decision boundary, the points as 4
bytes each and the curves, 3-8 kB of JSON that ``PlayView``'s script draws on a <canvas> (no
matplotlib, no image files). A frame on a running stream costs the server far less than a request
per frame (a ``gr.Timer`` tick, as this tab first did): with thirty students playing, that
difference is the Draw tab's speed (bench/playground_load.py). Each control's own event applies a
change between steps. All students' playground work passes one gate (cnnlab.lessons.playground.GATE: one
at a time, at most 30% of one core, the server's cost of each frame included) on two threads of
its own (``PLAY_THREADS``), so thirty students playing cannot starve the Draw tab. Closing the
page ends its stream (Gradio cancels a session's events when its page goes).

Every word of the tab is in cnnlab/i18n (section "playground"; the picture's own words in
"playground.view", all languages in ``PlayView``'s ``texts`` prop, the script picks the reader's).
"""
from __future__ import annotations

import asyncio
import inspect
import json
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import gradio as gr

from ..i18n import DEFAULT, Text, tr
from ..lessons import playground as pg
from .context import AppContext
from .inputs import fail
from .lang import PICK_TEXTS, T, lang_of, texts

TICK_S = 0.25                # a playing student gets a frame 4 times a second (fewer when busy)
PLAY_LIMIT_S = 15 * 60       # a stream ends after this long (a forgotten phone stops playing)
# Where playing students' steps run: two threads of their own, so students waiting at the gate
# never hold the threads the Draw tab's requests run on.
PLAY_THREADS = ThreadPoolExecutor(2, thread_name_prefix="playground")
CONCURRENCY = 2              # playground calls running at once (2 cores; the Draw tab has its own 8)
LR_CHOICES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.02, 0.03, 0.1, 0.2, 0.3, 1.0, 3.0, 10.0]
REG_RATE_CHOICES = [0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
# cnnlab.lessons.playground's input features -> their keys in the "playground.feature" section
FEATURE_KEYS = {"x1": "x1", "x2": "x2", "x1^2": "x1_sq", "x2^2": "x2_sq", "x1*x2": "x1x2",
                "sin(x1)": "sin_x1", "sin(x2)": "sin_x2"}
# The controls, in the order every handler below receives them (after the state and the layer shown).
CONTROL_NAMES = ("dataset", "classes", "noise", "points", "ratio", "features", "layers", "neurons", "activation",
                 "regularization", "reg_rate", "optimizer", "lr", "batch", "speed")


def feature_choices(features, lang: str = DEFAULT) -> list[tuple[str, str]]:
    return [(tr(lang, f"playground.feature.{FEATURE_KEYS[f]}"), f) for f in features]


VIEW_HTML = """
<div class="pg" data-kind="">
  <div class="pg-stats" role="status"></div>
  <canvas class="pg-main" width="400" height="400" role="img"></canvas>
  <div class="pg-legend"></div>
  <div class="pg-curves-title"></div>
  <canvas class="pg-curves" width="400" height="160" role="img"></canvas>
  <div class="pg-neurons-title"></div>
  <div class="pg-neurons"></div>
</div>
"""

VIEW_CSS = """
.pg { display: flex; flex-direction: column; gap: 6px; width: 100%; max-width: 460px; margin: 0 auto; }
.pg-stats { font-size: 1rem; line-height: 1.5; min-height: 3em; overflow-wrap: anywhere; }
.pg-stats b { font-variant-numeric: tabular-nums; }
.pg-main { width: 100%; height: auto; aspect-ratio: 1 / 1; border: 1px solid var(--border-color-primary, #ccc);
  border-radius: 6px; background: #fff; }
.pg-curves { width: 100%; height: auto; aspect-ratio: 5 / 2; background: #fff;
  border: 1px solid var(--border-color-primary, #ccc); border-radius: 6px; }
.pg-legend, .pg-curves-title, .pg-neurons-title { font-size: 0.85rem; color: var(--body-text-color-subdued, #555); }
.pg-neurons { display: flex; flex-wrap: wrap; gap: 4px; }
.pg-neuron { width: 44px; height: 44px; border: 1px solid #bbb; border-radius: 3px; background-repeat: no-repeat; }
canvas.pg-neuron { background: #fff; }
.pg-item { white-space: nowrap; }
.pg-key { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 50%; vertical-align: -0.1em;
  margin: 0 0.2em 0 0.6em; }
"""

VIEW_JS = """
const texts = props.texts || {};
const T = PICK;
const CLASS = ['#E69F00', '#0072B2', '#009E73', '#CC79A7'];
const RACE = {sgd: '#999999', momentum: '#E69F00', rmsprop: '#009E73', adam: '#0072B2'};
const main = element.querySelector('.pg-main');
const curves = element.querySelector('.pg-curves');
const heat = new Image();
let current = null;
main.setAttribute('aria-label', T.aria_main || '');
curves.setAttribute('aria-label', T.aria_curves || '');

function bytes(s) { const r = atob(s || ''); const a = new Uint8Array(r.length);
  for (let i = 0; i < r.length; i++) a[i] = r.charCodeAt(i); return a; }
function fmt(v, d) { return (v === null || v === undefined) ? '–' : Number(v).toFixed(d); }
function pct(v) { return (v === null || v === undefined) ? '–' : (100 * v).toFixed(1) + '%'; }
function diverging(t) {            // -1 orange .. 0 white .. 1 blue
  const a = Math.max(-1, Math.min(1, t)); const c = a < 0 ? [230, 159, 0] : [0, 114, 178]; const k = Math.abs(a);
  return `rgb(${255 + (c[0] - 255) * k},${255 + (c[1] - 255) * k},${255 + (c[2] - 255) * k})`;
}
function points(ctx, v, W, H) {
  const p = bytes(v.points);
  for (let i = 0; i + 3 < p.length; i += 4) {
    const x = p[i] / 255 * W, y = p[i + 1] / 255 * H, val = p[i + 2], f = p[i + 3];
    const test = f & 1, wrong = f & 2;
    ctx.beginPath(); ctx.arc(x, y, v.kind === 'reg1' || v.kind === 'race' ? 3 : 4.2, 0, 2 * Math.PI);
    if (v.kind === 'class') ctx.fillStyle = CLASS[val] || '#000';
    else if (v.kind === 'reg2') ctx.fillStyle = diverging(val / 127.5 - 1);
    else ctx.fillStyle = test ? '#fff' : '#666';
    ctx.fill();
    ctx.lineWidth = wrong ? 2.5 : (test ? 1.6 : 1);
    ctx.strokeStyle = (test || wrong) ? '#111' : (v.kind === 'reg1' || v.kind === 'race' ? '#666' : '#fff');
    ctx.stroke();
  }
}
function line(ctx, q, W, H, colour, width) {
  const a = bytes(q); if (!a.length) return;
  ctx.beginPath(); ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.lineJoin = 'round';
  for (let i = 0; i < a.length; i++) { const x = i / (a.length - 1) * W, y = (1 - a[i] / 255) * H;
    if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y); }
  ctx.stroke();
}
function drawMain(v) {
  const ctx = main.getContext('2d'); const W = main.width, H = main.height;
  if (v.heat) {
    heat.onload = () => { if (current !== v) return; ctx.imageSmoothingEnabled = true;
      ctx.drawImage(heat, 0, 0, W, H); points(ctx, v, W, H); };
    heat.src = v.heat;
    return;
  }
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = '#e5e5e5'; ctx.lineWidth = 1;
  for (let i = 1; i < 4; i++) { ctx.beginPath(); ctx.moveTo(i * W / 4, 0); ctx.lineTo(i * W / 4, H); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, i * H / 4); ctx.lineTo(W, i * H / 4); ctx.stroke(); }
  points(ctx, v, W, H);
  if (v.kind === 'race') { for (const k of Object.keys(v.curves || {})) line(ctx, v.curves[k], W, H, RACE[k], 3); }
  else line(ctx, v.curve, W, H, '#D55E00', 5);
}
function axes(ctx, W, H, top, right) {
  ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = '#ddd'; ctx.lineWidth = 1; ctx.fillStyle = '#555'; ctx.font = '12px sans-serif';
  for (let i = 0; i <= 4; i++) { const y = 8 + (H - 28) * i / 4;
    ctx.beginPath(); ctx.moveTo(34, y); ctx.lineTo(W - 34, y); ctx.stroke();
    ctx.fillText(Number(top * (1 - i / 4)).toPrecision(2), 2, y + 4);
    if (right) ctx.fillText((100 - 25 * i) + '%', W - 32, y + 4); }
}
function series(ctx, xs, ys, xmax, top, W, H, colour, dash) {
  ctx.beginPath(); ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.setLineDash(dash || []);
  let started = false;
  for (let i = 0; i < xs.length; i++) { const y = ys[i]; if (y === null || y === undefined) continue;
    const px = 34 + (W - 68) * (xmax ? xs[i] / xmax : 0), py = 8 + (H - 28) * (1 - Math.min(y, top) / top);
    if (started) ctx.lineTo(px, py); else { ctx.moveTo(px, py); started = true; } }
  ctx.stroke(); ctx.setLineDash([]);
}
function nice(m) { if (!(m > 0)) return 1; const e = Math.pow(10, Math.floor(Math.log10(m))); const f = m / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e; }
function drawCurves(v) {
  const ctx = curves.getContext('2d'); const W = curves.width, H = curves.height;
  if (v.kind === 'race') {
    const top = 0.2; axes(ctx, W, H, top, false);
    const names = Object.keys(v.losses || {});
    for (const k of names) { const ys = v.losses[k]; const xs = ys.map((_, i) => i * v.stride);
      series(ctx, xs, ys, v.total, top, W, H, RACE[k]); }
    ctx.fillStyle = '#555'; ctx.fillText((T.step || 'step') + ' ' + v.step + ' / ' + v.total, W - 150, H - 4);
    return;
  }
  const h = v.history || {}; const xs = h.epoch || [];
  const all = (h.train || []).concat(h.test || []).filter((y) => y !== null);
  const top = nice(Math.max(...all, 1e-3));
  const classify = v.kind === 'class';
  axes(ctx, W, H, top, classify);
  const xmax = Math.max(xs[xs.length - 1] || 1, 1e-9);
  series(ctx, xs, h.train || [], xmax, top, W, H, '#0072B2');
  series(ctx, xs, h.test || [], xmax, top, W, H, '#E69F00', [6, 4]);
  if (classify) { series(ctx, xs, h.acc || [], xmax, 1, W, H, '#009E73');
    series(ctx, xs, h.acc_test || [], xmax, 1, W, H, '#CC79A7', [6, 4]); }
  ctx.fillStyle = '#555'; ctx.fillText((T.epoch || 'epoch') + ' ' + fmt(xmax, 1), W - 110, H - 4);
}
function drawNeurons(v) {
  const box = element.querySelector('.pg-neurons'); const title = element.querySelector('.pg-neurons-title');
  const n = v.neurons || {};
  box.innerHTML = '';
  if (v.kind === 'race') { title.textContent = ''; return; }
  if (!n.n) { title.textContent = T.no_neurons || ''; return; }
  title.textContent = (n.sprite ? T.neurons : T.neurons_1d || '')
    .replace('{layer}', n.layer).replace('{layers}', n.layers);
  for (let i = 0; i < n.n; i++) {
    if (n.sprite) {
      const d = document.createElement('div'); d.className = 'pg-neuron';
      d.style.backgroundImage = `url(${n.sprite})`; d.style.backgroundSize = `${n.n * 100}% 100%`;
      d.style.backgroundPosition = n.n > 1 ? `${i / (n.n - 1) * 100}% 0` : '0 0';
      box.appendChild(d);
    } else {
      const c = document.createElement('canvas'); c.className = 'pg-neuron'; c.width = 44; c.height = 44;
      const all = bytes(n.curves); const one = all.slice(i * n.samples, (i + 1) * n.samples);
      let s = ''; for (const b of one) s += String.fromCharCode(b);
      line(c.getContext('2d'), btoa(s), 44, 44, '#0072B2', 2); box.appendChild(c);
    }
  }
}
function stats(v) {
  const el = element.querySelector('.pg-stats');
  if (v.kind === 'race') {
    const names = v.names || {};
    el.innerHTML = `${T.step} <b class="pg-step">${v.step}</b> ${T.of} ${v.total} · ` +
      `${T.epoch} <b>${fmt(v.epoch, 1)}</b><br>` +
      Object.keys(v.last || {}).map((k) => `<span class="pg-item"><span class="pg-key" style="background:${RACE[k]}">` +
      `</span>${names[k]} <b data-optimizer="${k}">${fmt(v.last[k], 4)}</b></span>`).join(' ');
    element.querySelector('.pg-legend').textContent = T.legend_race || '';
    element.querySelector('.pg-curves-title').textContent = T.curves_race || '';
    return;
  }
  let s = `${T.epoch} <b class="pg-epoch">${fmt(v.epoch, 1)}</b> · ${T.step} <b class="pg-step">${v.step}</b><br>` +
    `${T.train_loss} <b class="pg-train-loss">${fmt(v.train_loss, 4)}</b> · ` +
    `${T.test_loss} <b class="pg-test-loss">${fmt(v.test_loss, 4)}</b>`;
  if (v.kind === 'class') s += `<br>${T.accuracy} <b class="pg-acc">${pct(v.train_acc)}</b> · ` +
    `${T.test_accuracy} <b class="pg-test-acc">${pct(v.test_acc)}</b>`;
  el.innerHTML = s;
  element.querySelector('.pg-legend').textContent = T['legend_' + v.kind] || '';
  const keys = [['train', '#0072B2'], ['test', '#E69F00']].concat(v.kind === 'class' ?
    [['acc', '#009E73'], ['acc_test', '#CC79A7']] : []);
  element.querySelector('.pg-curves-title').innerHTML = (T.curves || '') + keys.map(([k, c]) =>
    `<span class="pg-item"><span class="pg-key" style="background:${c}"></span>${T['key_' + k] || k}</span>`).join(' ');
}
function render() {
  let v = null;
  try { v = props.value ? JSON.parse(props.value) : null; } catch (e) { v = null; }
  if (!v) return;
  current = v;
  element.querySelector('.pg').dataset.kind = v.kind;
  element.querySelector('.pg').dataset.step = v.step;
  stats(v); drawMain(v); drawCurves(v); drawNeurons(v);
}
watch('value', render);
render();
""".replace("PICK", PICK_TEXTS)


class PlayView(gr.HTML):
    """The playground's picture: the data and the prediction, the curves, the neurons, drawn in
    the browser from a frame (cnnlab.lessons.playground.Playground.frame / Race.frame)."""

    def __init__(self, value=None, *, label: str | None = None, elem_id: str | None = None, visible: bool = True,
                 **kwargs):
        kwargs.setdefault("texts", texts("playground.view"))
        for fixed in ("html_template", "css_template", "js_on_load", "apply_default_css"):
            kwargs.pop(fixed, None)              # gr.skip() / updates rebuild the component with these
        super().__init__(self.postprocess(value), label=label, html_template=VIEW_HTML, css_template=VIEW_CSS,
                         js_on_load=VIEW_JS, apply_default_css=False, elem_id=elem_id, visible=visible, **kwargs)

    def postprocess(self, value) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"))

    def preprocess(self, payload):
        return payload

    def api_info(self) -> dict:
        return {"type": "string", "description": "the frame as JSON (see cnnlab.lessons.playground.Playground.frame)"}

    def example_payload(self):
        return None

    def example_value(self):
        return None


# ---------------------------------------------------------------------- settings <-> controls
def settings_from(values, current: pg.Settings | None = None, lang: str = DEFAULT) -> pg.Settings:
    """The controls' values -> checked Settings (the data seed and weight seed carry over), or a
    gr.Error with a sentence."""
    (dataset, classes, noise, points, ratio, features, layers, neurons, activation, regularization,
     reg_rate, optimizer, lr, batch, speed) = values
    current = current or pg.Settings()
    try:
        layers, neurons = int(layers), int(neurons)
        if not 0 <= layers <= pg.MAX_HIDDEN_LAYERS:           # before making a tuple of that length
            raise fail(Text("playground.layers_range", most=pg.MAX_HIDDEN_LAYERS), lang)
        s = pg.Settings(dataset=str(dataset), classes=int(classes), noise=float(noise), points=int(points),
                        train_ratio=float(ratio) / 100, features=tuple(str(f) for f in (features or ())[:20]),
                        hidden=(neurons,) * layers, activation=str(activation),
                        regularization=str(regularization), reg_rate=float(reg_rate), optimizer=str(optimizer),
                        lr=float(lr), batch_size=int(batch), steps_per_frame=int(speed),
                        data_seed=current.data_seed, seed=current.seed)
    except (TypeError, ValueError, OverflowError):
        raise fail(Text("playground.not_a_number"), lang) from None
    try:
        return pg.check_settings(pg.usable(s))
    except pg.SettingsError as err:
        raise fail(err, lang) from None


def control_values(s: pg.Settings, lang: str = DEFAULT) -> list:
    """What each control shows for ``s`` (the features' choices follow the data set)."""
    spec = pg.DATASETS[s.dataset]
    allowed = pg.FEATURES_1D if spec.dims == 1 else tuple(pg.FEATURES)
    return [s.dataset, gr.Slider(value=s.classes, visible=spec.many_classes), s.noise, s.points,
            round(100 * s.train_ratio), gr.CheckboxGroup(choices=feature_choices(allowed, lang),
                                                         value=list(s.features)),
            len(s.hidden), s.hidden[0] if s.hidden else 4, s.activation, s.regularization, s.reg_rate,
            s.optimizer, s.lr, s.batch_size, s.steps_per_frame]


def suggested(dataset: str, current: pg.Settings) -> pg.Settings:
    """Settings for a newly picked data set: the course's for its two, TensorFlow Playground's
    usual ones (half the points for testing, batch 10) for the others; the network is kept."""
    spec = pg.DATASETS[dataset]
    if dataset == "curve":
        return replace(pg.PRESETS["regression"], hidden=current.hidden or (10,), data_seed=current.data_seed)
    if dataset == "two-clouds":
        return replace(pg.PRESETS["classification"], hidden=current.hidden or (10,), data_seed=current.data_seed)
    return replace(current, dataset=dataset, noise=spec.noise, points=spec.points, train_ratio=0.5,
                   features=("x1", "x2"), batch_size=10, steps_per_frame=5,
                   lr=current.lr if current.lr <= 0.1 else 0.03)


# ---------------------------------------------------------------------- the tab
def with_controls(fn):
    """``fn(p, layer_value, values, lang)`` as a Gradio handler of (state, layer, *controls): Gradio
    fills a ``gr.Request`` parameter only when it is named in the signature after the inputs, so the
    handler gets one, and ``fn`` the reader's language from it."""
    def handler(*args):
        p, layer_value, *values, request = args
        return fn(p, layer_value, tuple(values), lang_of(request))

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(name, kind) for name in ("state", "layer", *CONTROL_NAMES)]
    params.append(inspect.Parameter("request", kind, default=None, annotation=gr.Request))
    handler.__signature__ = inspect.Signature(params)
    handler.__annotations__ = {"request": gr.Request}
    handler.__name__ = handler.__qualname__ = fn.__name__
    return handler


def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> dict:
    start = pg.PRESETS["regression"]
    gif_folder = ctx.scratch.shared_folder("playground")

    gr.Markdown(T("playground.intro"))
    with gr.Row():
        preset_reg = gr.Button(T("playground.preset_regression"), elem_id="pg-preset-regression", min_width=100)
        preset_cls = gr.Button(T("playground.preset_classification"), elem_id="pg-preset-classification",
                               min_width=100)
        preset_race = gr.Button(T("playground.preset_race"), elem_id="pg-preset-race", min_width=100)
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=300):
            with gr.Row():
                play = gr.Button(T("playground.play"), variant="primary", elem_id="pg-play", min_width=90)
                step = gr.Button(T("playground.step"), elem_id="pg-step", min_width=90)
                reset = gr.Button(T("playground.reset"), elem_id="pg-reset", min_width=90)
            view = PlayView(label=T("playground.view_label"), elem_id="pg-view")
            layer = gr.Slider(1, pg.MAX_HIDDEN_LAYERS, value=1, step=1, label=T("playground.neuron_layer"),
                              elem_id="pg-layer")
            with gr.Accordion(T("playground.code"), open=False, elem_id="pg-code-box"):
                gr.Markdown(T("playground.code_note"))
                code = gr.Code(pg.code_for(start, pg.PRESET_STEPS["regression"]), language="python",
                               interactive=False, elem_id="pg-code", label=T("playground.code"))
            gif_btn = gr.Button(T("playground.gif"), elem_id="pg-gif-button")
            gif = gr.Image(label=T("playground.gif_label"), type="filepath", interactive=False, visible=False,
                           elem_id="pg-gif")
        with gr.Column(scale=2, min_width=280):
            gr.Markdown(T("playground.data"))
            dataset = gr.Dropdown([(T(f"playground.datasets.{k}"), k) for k in pg.DATASETS], value=start.dataset,
                                  label=T("playground.dataset"), elem_id="pg-dataset")
            classes = gr.Slider(*pg.CLASSES_RANGE, value=start.classes, step=1, label=T("playground.classes"),
                                visible=False, elem_id="pg-classes")
            noise = gr.Slider(*pg.NOISE_RANGE, value=start.noise, step=0.05, label=T("playground.noise"),
                              elem_id="pg-noise")
            points = gr.Slider(pg.MIN_POINTS, pg.MAX_POINTS, value=start.points, step=10,
                               label=T("playground.points"), elem_id="pg-points")
            ratio = gr.Slider(10, 100, value=100, step=5, label=T("playground.ratio"),
                              info=T("playground.ratio_info"), elem_id="pg-ratio")
            features = gr.CheckboxGroup([(T(f"playground.feature.{FEATURE_KEYS[f]}"), f) for f in pg.FEATURES_1D],
                                        value=list(start.features), label=T("playground.features"),
                                        elem_id="pg-features")
            regenerate = gr.Button(T("playground.regenerate"), size="sm", elem_id="pg-regenerate")
            gr.Markdown(T("playground.network"))
            layers = gr.Slider(0, pg.MAX_HIDDEN_LAYERS, value=len(start.hidden), step=1, label=T("playground.layers"),
                               elem_id="pg-layers")
            neurons = gr.Slider(1, pg.MAX_NEURONS, value=start.hidden[0], step=1, label=T("playground.neurons"),
                                elem_id="pg-neurons")
            activation = gr.Radio([(T(f"playground.activations.{k}"), k) for k in pg.ACTIVATIONS],
                                  value=start.activation, label=T("playground.activation"), elem_id="pg-activation")
            gr.Markdown(T("playground.training"))
            optimizer = gr.Radio([(T(f"playground.optimizers.{k}"), k) for k in pg.OPTIMIZERS], value=start.optimizer,
                                 label=T("playground.optimizer"), elem_id="pg-optimizer")
            lr = gr.Dropdown([(f"{v:f}".rstrip("0").rstrip("."), v) for v in LR_CHOICES], value=start.lr,
                             label=T("playground.lr"), allow_custom_value=True,
                             elem_id="pg-lr")
            batch = gr.Slider(1, pg.MAX_POINTS, value=start.batch_size, step=1, label=T("playground.batch"),
                              info=T("playground.batch_info"), elem_id="pg-batch")
            with gr.Row():
                regularization = gr.Radio([(T(f"playground.regularizations.{k}"), k) for k in pg.REGULARIZATIONS],
                                          value=start.regularization, label=T("playground.regularization"),
                                          elem_id="pg-regularization", min_width=140)
                reg_rate = gr.Dropdown(REG_RATE_CHOICES, value=start.reg_rate, label=T("playground.reg_rate"),
                                       allow_custom_value=True, elem_id="pg-reg-rate", min_width=120)
            speed = gr.Slider(1, pg.MAX_STEPS_PER_CALL, value=start.steps_per_frame, step=1,
                              label=T("playground.speed"), info=T("playground.speed_info"), elem_id="pg-speed")
    with gr.Accordion(T("playground.race_title"), open=False, elem_id="pg-race-box") as race_box:
        gr.Markdown(T("playground.race_intro"))
        with gr.Row():
            race_play = gr.Button(T("playground.play"), variant="primary", elem_id="pg-race-play", min_width=90)
            race_reset = gr.Button(T("playground.reset"), elem_id="pg-race-reset", min_width=90)
        race_view = PlayView(label=T("playground.race_view_label"), elem_id="pg-race")
        with gr.Accordion(T("playground.race_code"), open=False):
            gr.Code(pg.race_code(), language="python", interactive=False, elem_id="pg-race-code")

    state = gr.State(None)            # this student's cnnlab.lessons.playground.Playground
    race_state = gr.State(None)       # this student's cnnlab.lessons.playground.Race
    controls = [dataset, classes, noise, points, ratio, features, layers, neurons, activation,
                regularization, reg_rate, optimizer, lr, batch, speed]
    assert [c.elem_id for c in controls] == [f"pg-{n.replace('_', '-')}" for n in CONTROL_NAMES]

    def current(p: pg.Playground | None, values, lang: str) -> pg.Playground:
        """This student's playground with the controls' settings applied (made on first use)."""
        if p is None:
            return pg.Playground(settings_from(values, lang=lang))
        p.update(settings_from(values, p.settings, lang))
        return p

    def shown_code(p: pg.Playground):
        """The code, when it differs from what the page shows (gr.skip() otherwise)."""
        steps = max(100, -(-p.step_count // 100) * 100)
        key = (p.settings, steps)
        if getattr(p, "code_key", None) == key:
            return gr.skip()
        p.code_key = key
        return p.code(steps)

    def frame(p: pg.Playground, layer_value) -> dict:
        try:
            p.layer_shown = int(layer_value or 1)
        except (TypeError, ValueError):
            p.layer_shown = 1
        return p.frame(p.layer_shown)

    def playing(on: bool, lang: str) -> gr.Button:
        """Play's label: Pause while playing."""
        return gr.Button(value=tr(lang, "playground.pause" if on else "playground.play"))

    # One output list for every handler below: the view, the state, Play, the code.
    outputs = [view, state, play, code]

    def tick(p: pg.Playground, layer_value) -> tuple[dict, bool]:
        """One frame's steps (on a PLAY_THREADS thread): a frame that comes late (a busy server)
        runs up to MAX_CATCH_UP times the steps per frame, so the network learns at the same pace
        with fewer frames. Returns the frame and whether the run goes on."""
        with p.lock, pg.GATE():
            now = time.perf_counter()
            late = (now - p.last_tick) / TICK_S
            p.last_tick = now
            p.step(p.settings.steps_per_frame * min(pg.MAX_CATCH_UP, max(1, round(late))))
            return frame(p, p.layer_shown or layer_value), not p.finished

    async def play_loop(p, layer_value, request: gr.Request = None):
        """While this student plays: a frame every TICK_S (fewer when the gate is busy), on one
        stream. Pause, Reset, a preset or another Play end it (``p.play_id`` moves on)."""
        lang = lang_of(request)
        yield gr.skip(), gr.skip(), gr.skip()       # a stream that ends unheard must not blank its outputs
        if p is None or not p.playing:
            return
        me, started, loop = p.play_id, time.perf_counter(), asyncio.get_running_loop()
        while p.playing and p.play_id == me and time.perf_counter() - started < PLAY_LIMIT_S:
            due = p.last_tick + TICK_S
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            if not (p.playing and p.play_id == me):
                return
            shown, going = await loop.run_in_executor(PLAY_THREADS, tick, p, layer_value)
            if not going:
                p.playing = False
                gr.Warning(tr(lang, "playground.finished", n=pg.MAX_RUN_STEPS))
                yield shown, playing(False, lang), shown_code(p)
                return
            yield shown, gr.skip(), shown_code(p)
        if p.play_id == me and p.playing:            # the time limit: stop, and say so on the button
            p.playing = False
            yield gr.skip(), playing(False, lang), gr.skip()

    @with_controls
    def toggle(p, layer_value, values, lang):
        p = p or current(None, values, lang)
        with p.lock, pg.GATE():
            p = current(p, values, lang)
            p.playing = not p.playing and not p.finished
            p.play_id += 1
            p.last_tick = time.perf_counter()
            if p.playing:
                p.step()
            return frame(p, layer_value), p, playing(p.playing, lang), shown_code(p)

    @with_controls
    def step_once(p, layer_value, values, lang):
        p = p or current(None, values, lang)
        with p.lock, pg.GATE():
            p = current(p, values, lang)
            p.playing = False
            p.step()
            return frame(p, layer_value), p, playing(False, lang), shown_code(p)

    @with_controls
    def do_reset(p, layer_value, values, lang):
        p = p or current(None, values, lang)
        with p.lock, pg.GATE():
            p.reset(settings_from(values, p.settings, lang))
            p.playing = False
            return frame(p, layer_value), p, playing(False, lang), shown_code(p)

    @with_controls
    def apply(p, layer_value, values, lang):
        """A control changed: show its effect now (a new network if the shape changed)."""
        p = p or current(None, values, lang)
        with p.lock, pg.GATE():
            p = current(p, values, lang)
            return frame(p, layer_value), p, gr.skip(), shown_code(p)

    @with_controls
    def new_points(p, layer_value, values, lang):
        p = p or current(None, values, lang)
        with p.lock, pg.GATE():
            s = settings_from(values, p.settings, lang)
            p.update(replace(s, data_seed=random.randint(0, pg.MAX_SEED)))
            return frame(p, layer_value), p, gr.skip(), shown_code(p)

    def load_settings(p, s: pg.Settings, layer_value, lang: str):
        p = p or pg.Playground(s)
        with p.lock, pg.GATE():
            p.reset(s)
            p.playing = False
            return [*control_values(s, lang), frame(p, layer_value), p, playing(False, lang), shown_code(p)]

    def preset(name):
        def load(p, layer_value, request: gr.Request = None):
            return load_settings(p, pg.PRESETS[name], layer_value, lang_of(request))
        return load

    @with_controls
    def pick_dataset(p, layer_value, values, lang):
        """A new data set: its usual settings (see ``suggested``), a new network."""
        base = settings_from(values, p.settings if p is not None else None, lang)
        return load_settings(p, pg.check_settings(pg.usable(suggested(base.dataset, base))), layer_value, lang)

    play_args = dict(concurrency_limit=CONCURRENCY, concurrency_id="playground")
    # The Playground lives in the page: every call needs this page's session state (the student's
    # net), so its endpoints stay off the API page ("undocumented"), which lists what a script can use.
    quiet = dict(show_progress="hidden", api_visibility="undocumented", **play_args)
    inputs = [state, layer, *controls]
    # The stream of a playing student holds no concurrency slot (it mostly sleeps); the gate and
    # PLAY_THREADS bound its work.
    stream = dict(show_progress="hidden", api_visibility="undocumented", concurrency_limit=None,
                  concurrency_id="playground-stream")
    play.click(toggle, inputs, outputs, api_name="playground_play", **quiet).success(
        play_loop, [state, layer], [view, play, code], api_name="playground_stream", **stream)
    step.click(step_once, inputs, outputs, api_name="playground_step", **quiet)
    reset.click(do_reset, inputs, outputs, api_name="playground_reset", **quiet)
    regenerate.click(new_points, inputs, outputs, api_name="playground_new_points", **quiet)
    preset_outputs = [*controls, *outputs]
    preset_reg.click(preset("regression"), [state, layer], preset_outputs, api_name="playground_preset_regression",
                     **quiet)
    preset_cls.click(preset("classification"), [state, layer], preset_outputs,
                     api_name="playground_preset_classification", **quiet)
    dataset.input(pick_dataset, inputs, preset_outputs, api_name=False, **quiet)
    for control in (classes, noise, points, ratio, layers, neurons, batch, speed):
        control.release(apply, inputs, outputs, api_name=False, trigger_mode="always_last", **quiet)
    for control in (features, activation, regularization, reg_rate, optimizer, lr):
        control.input(apply, inputs, outputs, api_name=False, trigger_mode="always_last", **quiet)
    layer.release(apply, inputs, outputs, api_name=False, trigger_mode="always_last", **quiet)
    demo.load(apply, inputs, outputs, api_name=False, **quiet)

    def make_gif(p, request: gr.Request = None):
        lang = lang_of(request)
        if p is None:
            raise fail(Text("playground.no_gif"), lang)
        with p.lock:
            try:
                ctx.scratch.prune()
                path = p.save_gif(gif_folder / f"playground-{random.getrandbits(48):012x}.gif", lang=lang)
            except pg.SettingsError:
                raise fail(Text("playground.no_gif"), lang) from None
        return gr.Image(value=str(path), visible=True)

    gif_btn.click(make_gif, state, gif, api_name="playground_gif", concurrency_limit=1,
                  concurrency_id="playground-gif", api_visibility="undocumented")

    # -- the race
    race_outputs = [race_view, race_state, race_play]

    def race_tick(r: pg.Race) -> tuple[dict, bool]:
        with r.lock, pg.GATE():
            r.step(8)
            return r.frame(), not r.finished

    async def race_loop(r, request: gr.Request = None):
        """While the race plays: a frame every TICK_S on one stream (as ``play_loop``)."""
        lang = lang_of(request)
        yield gr.skip(), gr.skip()                  # (see play_loop)
        if r is None or not r.playing:
            return
        me, started, loop = r.play_id, time.perf_counter(), asyncio.get_running_loop()
        while r.playing and r.play_id == me and time.perf_counter() - started < PLAY_LIMIT_S:
            await asyncio.sleep(TICK_S)
            if not (r.playing and r.play_id == me):
                return
            shown, going = await loop.run_in_executor(PLAY_THREADS, race_tick, r)
            if not going:
                r.playing = False
                yield shown, playing(False, lang)
                return
            yield shown, gr.skip()

    def race_toggle(r, request: gr.Request = None):
        r = r if r is not None and not r.finished else pg.Race()
        with r.lock, pg.GATE():
            r.playing = not r.playing
            r.play_id += 1
            if r.playing:
                r.step(8)
            return r.frame(), r, playing(r.playing, lang_of(request))

    def new_race(play_now: bool, lang: str):
        r = pg.Race()
        r.playing = play_now
        return r.frame(), r, playing(play_now, lang)

    def race_restart(r, request: gr.Request = None):
        return new_race(False, lang_of(request))

    def race_start(r, request: gr.Request = None):
        return new_race(True, lang_of(request))

    def then_race(event, api_name):
        event.success(race_loop, race_state, [race_view, race_play], api_name=api_name, **stream)

    then_race(race_play.click(race_toggle, race_state, race_outputs, api_name="playground_race_play", **quiet),
              "playground_race_stream")
    race_reset.click(race_restart, race_state, race_outputs, api_name="playground_race_reset", **quiet)
    then_race(preset_race.click(lambda: gr.Accordion(open=True), None, race_box, queue=False, api_name=False).then(
        race_start, race_state, race_outputs, api_name=False, **quiet), False)
    return {}
