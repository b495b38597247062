"""Photo tab: a phone photo of a piece of clothing or a flower, classified by a shipped model.

The lesson is the gap between a real photo and the training data, so the tab shows the image
the model actually sees and says plainly when it is unsure ("this doesn't look like the clothes
I was trained on") rather than giving a confident wrong answer.

Uploads arrive as file paths with Gradio's own decoding switched off (``preprocess=False``), so
every broken, huge or odd file reaches ``cnnlab.core.imageio`` and becomes a clear message.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from ..core import calibration, imageio
from ..core.datasets import FASHION_CLASSES
from ..core.inference import Answer, answer
from ..core.preprocess import _background as background_surface
from ..core.saliency import enlarge, overlay
from ..i18n import DEFAULT, Refusal, Text, class_name, refusal_of, say, tr
from .common import refusing
from .context import AppContext
from .lang import T, lang_of

# task -> the data sets whose models fit it
TASKS = {
    "Clothing": ("fashion",),
    "Flower": ("flowers5", "flowers102"),
    "Own classes": ("own",),         # the class's own classes (Own classes tab), once trained
}
OWN_TASK = "Own classes"
PLAIN_BORDER = 60        # grey levels: the photo's edge is "plain" if 80% of it lies within this band
MAX_LIGHT_CHANGE = 130   # grey levels: a lamp brightens one side of a sheet; sky-to-trees is more
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
TASK_NAMES = {"Clothing": "photo.task_clothing", "Flower": "photo.task_flower",   # the values stay English
              OWN_TASK: "photo.task_own"}


# --- choosing a model ------------------------------------------------------------------------

def model_choices(zoo, task: str, lang: str = DEFAULT) -> list[tuple[str, str]]:
    return zoo.choices(TASKS[task], lang)


def pick_model(zoo, task: str, key: str | None, lang: str = DEFAULT):
    """The loaded model for ``key`` when it fits the task, else the task's default."""
    if task not in TASKS:
        raise Refusal(Text("photo.choose_task"))
    keys = [k for _, k in model_choices(zoo, task)]
    key = key if key in keys else zoo.default(TASKS[task])
    if key is None:
        if task == OWN_TASK:
            raise Refusal(Text("photo.no_own_model"))
        raise Refusal(Text("photo.no_clothing_model" if task == "Clothing" else "photo.no_flower_model"))
    try:
        return zoo.get(key)
    except (KeyError, ValueError) as err:
        raise Refusal(Text("photo.load_failed", key=key, why=refusal_of(err).text)) from err


# --- judging the answer ----------------------------------------------------------------------

def scene_problem(image: Image.Image, lang: str = DEFAULT) -> str | None:
    """Why a photo does not look like a Fashion-MNIST product shot (one item on a plain
    background), in words for the student; None when it does. Uses the same background model
    as the preprocessing (a smooth surface fitted to the photo's border, so uneven light is fine)."""
    small = image.convert("L")
    small.thumbnail((96, 96))
    grey = np.asarray(small, np.float32)
    band = max(1, min(grey.shape) // 16)
    paper = background_surface(grey, band)
    away = np.abs(grey - paper)                               # how far each pixel is from paper
    border = np.concatenate([away[:band].ravel(), away[-band:].ravel(),
                             away[:, :band].ravel(), away[:, -band:].ravel()])
    if np.mean(border <= PLAIN_BORDER / 2) < 0.8 or np.ptp(paper) > MAX_LIGHT_CHANGE:
        return tr(lang, "photo.not_plain")
    filled = np.mean(away > PLAIN_BORDER)
    if filled < 0.01:
        return tr(lang, "photo.no_object")
    if filled > 0.85:
        return tr(lang, "photo.fills_photo")
    return None


def is_sure(probs: dict[str, float], task: str = "Flower") -> bool:
    """The app's one "not sure" rule (cnnlab.core.calibration.SURE) on calibrated probabilities."""
    return calibration.is_sure(probs.values(), "clothing" if task == "Clothing" else "photo")


def verdict(result: Answer, task: str, problem: str | None = None, lang: str = DEFAULT) -> tuple[bool, str]:
    """(sure, Markdown) in plain language, in ``lang``; unsure whenever the photo or the numbers say so."""
    ranked = sorted(result.probs.items(), key=lambda kv: -kv[1])
    (top, p1), (second, p2) = ranked[0], ranked[1]
    named = (lambda c: c) if task == OWN_TASK else (lambda c: class_name(lang, c))   # students' names stay
    top, second = named(top), named(second)
    known = (tr(lang, "photo.list_separator").join(named(c) for c in result.probs)
             if len(result.probs) <= 10 else tr(lang, "photo.kinds_of_flower", n=len(result.probs)))
    if problem is None and is_sure(result.probs, task):
        scope = "" if task in ("Clothing", OWN_TASK) else tr(lang, "photo.scope", known=known)
        return True, tr(lang, "photo.sure", top=top, p1=p1, second=second, p2=p2) + scope
    thing = Text({"Clothing": "photo.clothes", OWN_TASK: "photo.pictures"}.get(task, "photo.flowers"))
    why = tr(lang, "photo.why", problem=problem) if problem else ""
    tip = Text({"Clothing": "photo.tip_clothing", OWN_TASK: "photo.tip_thing"}.get(task, "photo.tip_flower"))
    return False, tr(lang, "photo.not_sure", thing=thing, why=why, top=top, p1=p1, second=second, p2=p2,
                     known=known, tip=tip)


# --- the handler -----------------------------------------------------------------------------

def photo_source(value) -> str | bytes | None:
    """What to decode from the Image input's raw value: a file path, data-URL bytes, or None."""
    if value is None or isinstance(value, (str, Path)):
        return str(value) if value else None
    if isinstance(value, dict):
        if value.get("path"):
            return value["path"]
        url = value.get("url") or ""
        if url.startswith("data:"):
            return imageio.decode_data_url(url)
    raise imageio.ImageInputError(Text("imageio.form"))


def read_photo(value, cache: dict | None, lang: str = DEFAULT) -> tuple[imageio.Photo | None, dict | None]:
    """The decoded photo (from this user's cache when it is the same file) and the new cache."""
    try:
        source = photo_source(value)
        if source is None:
            return None, None
        key = source if isinstance(source, str) else hash(source)
        if cache and cache.get("key") == key:
            return cache["photo"], cache
        photo = imageio.load_photo(source)
    except imageio.ImageInputError as err:
        raise Refusal(err.text, title=Text("photo.failed_title")) from err
    for note in photo.notes:
        gr.Info(say(lang, note))
    return photo, {"key": key, "photo": photo}


def classify_photo(zoo, value, task: str, model_key: str | None, show_saliency: bool,
                   cache: dict | None = None, lang: str = DEFAULT):
    """Verdict, top classes, what the model sees, the saliency overlay, and this user's cache."""
    photo, cache = read_photo(value, cache, lang)
    if photo is None:
        return tr(lang, "photo.hint"), None, None, gr.update(value=None, visible=bool(show_saliency)), cache
    loaded = pick_model(zoo, task, model_key, lang)
    result = answer(loaded, photo.image, with_saliency=bool(show_saliency))
    problem = scene_problem(photo.image, lang) if task == "Clothing" else None
    if problem is None and result.unfamiliar:
        problem = tr(lang, "photo.unfamiliar")
    _, text = verdict(result, task, problem, lang)
    seen = result.prepared.seen
    seen = enlarge(seen) if seen.ndim == 2 else seen
    # Heat over a grey copy of the photo: blue stays visible on a blue flower or a blue shirt.
    heat = (overlay(np.asarray(photo.image.convert("L")), result.saliency, result.prepared)
            if show_saliency else None)
    probs = {class_name(lang, c): p for c, p in result.probs.items()}
    return text, probs, seen, gr.update(value=heat, visible=bool(show_saliency)), cache


def example_rows() -> tuple[list[list[str]], list]:
    """Example photos: Fashion-MNIST items made to look like shop photos (demo/), plus
    scikit-learn's sample photos (a flower, and a temple that is not clothing) copied at run time."""
    rows, labels = [], []
    for path in sorted(DEMO_DIR.glob("fashion-*.jpg")):
        rows.append([str(path), "Clothing"])
        name = path.stem.removeprefix("fashion-").replace("-", " ")
        labels.append(next((Text(f"classes.{c}") for c in FASHION_CLASSES if c.lower() == name), name))
    spec = importlib.util.find_spec("sklearn")
    if spec and spec.submodule_search_locations:
        images = Path(spec.submodule_search_locations[0]) / "datasets" / "images"
        out = Path(tempfile.gettempdir()) / "cnnlab-examples"
        for name, task, label in (("flower.jpg", "Flower", Text("photo.example_dahlia")),
                                  ("china.jpg", "Clothing", Text("photo.example_not_clothing"))):
            if (images / name).is_file():
                out.mkdir(exist_ok=True)
                with (images / name).open("rb") as src, \
                        tempfile.NamedTemporaryFile(dir=out, suffix=".tmp", delete=False) as tmp:
                    shutil.copyfileobj(src, tmp)
                Path(tmp.name).replace(out / name)      # atomic: another app may be reading it
                rows.append([str(out / name), task])
                labels.append(label)
    return rows, labels


# --- the tab ---------------------------------------------------------------------------------

def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    zoo = ctx.zoo
    gr.Markdown(T("photo.intro"))
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            task = gr.Radio([(T(TASK_NAMES[t]), t) for t in TASKS], value="Clothing", label=T("photo.task"),
                            elem_id="photo-task")
            model = gr.Dropdown(model_choices(zoo, "Clothing"), value=zoo.default(TASKS["Clothing"]),
                                label=T("photo.model"), elem_id="photo-model")
            photo = gr.Image(sources=["upload", "webcam", "clipboard"], type="filepath",
                             label=T("photo.photo"), elem_id="photo-input", height=360)
            show_saliency = gr.Checkbox(False, label=T("photo.saliency"),
                                        elem_id="photo-saliency")
        with gr.Column(scale=1, min_width=300):
            answer_md = gr.Markdown(T("photo.hint"), label=T("photo.answer"), elem_id="photo-verdict")
            probs = gr.Label(num_top_classes=3, label=T("photo.probs"), elem_id="photo-probs",
                             show_heading=False)       # the verdict above says it, with doubts
            seen = gr.Image(label=T("photo.seen"), elem_id="photo-seen", interactive=False,
                            height=280, format="png", buttons=[])
            heat = gr.Image(label=T("photo.heat"),
                            elem_id="photo-heat", interactive=False, visible=False, height=360,
                            format="jpeg", buttons=[])
    rows, labels = example_rows()
    # the labels are said in the reader's language when the page loads (refresh, below)
    examples = gr.Examples(rows, [photo, task], example_labels=[str(x) for x in labels],
                           label=T("photo.examples")).dataset if rows else None
    cache = gr.State(None)                # this user's decoded photo, reused for toggles
    zoo_version = gr.State(zoo.version)   # which list of models this user's dropdown shows

    @refusing
    def classify(photo, task, model, show_saliency, cache, request: gr.Request = None):   # names = API names
        return classify_photo(zoo, photo, task, model, show_saliency, cache, lang_of(request))

    outputs = [answer_md, probs, seen, heat, cache]
    run = gr.on([photo.change, model.change, show_saliency.change], classify,
                [photo, task, model, show_saliency, cache], outputs, api_name="classify_photo",
                api_description="Classify a photo of clothing (task 'Clothing') or a flower ('Flower'): "
                "a verdict that says when the model is unsure, the top 3, and what the model sees.",
                preprocess=False, concurrency_limit=2, concurrency_id="photo",
                show_progress="minimal")
    @refusing
    def failed(request: gr.Request = None):
        return tr(lang_of(request), "photo.failed"), None, None, gr.update(value=None)

    run.failure(failed, None, outputs[:4], api_visibility="private", queue=False)

    @refusing
    def task_models(t, request: gr.Request = None):
        return gr.update(choices=model_choices(zoo, t, lang_of(request)), value=zoo.default(TASKS[t])), zoo.version

    task.change(task_models, task, [model, zoo_version], api_name="photo_models", api_visibility="undocumented",
                queue=False)

    @refusing
    def refresh(t, current, seen_version, request: gr.Request = None):   # a run trained since the page opened
        lang = lang_of(request)                                           # joins the list
        named = gr.Dataset(sample_labels=[say(lang, x) for x in labels]) if lang != DEFAULT else gr.skip()
        if seen_version == zoo.version and lang == DEFAULT:
            return gr.skip(), seen_version, *([named] if examples else [])
        keys = [k for _, k in model_choices(zoo, t)]
        value = current if current in keys else zoo.default(TASKS[t])
        return gr.update(choices=model_choices(zoo, t, lang), value=value), zoo.version, *([named] if examples else [])

    for event in ([tab.select] if isinstance(tab, gr.Tab) else []) + [demo.load]:
        event(refresh, [task, model, zoo_version], [model, zoo_version] + ([examples] if examples else []),
              api_visibility="private", queue=False)
