"""Photo tab: a phone photo of a piece of clothing or a flower, classified by a shipped model.

The lesson is the gap between a real photo and the training data, so the tab shows the image
the model actually sees and says plainly when it is unsure ("this doesn't look like the clothes
I was trained on") rather than giving a confident wrong answer.

Uploads arrive as file paths with Gradio's own decoding switched off (``preprocess=False``), so
every broken, huge or odd file reaches ``cnnlab.imageio`` and becomes a clear message.
"""
from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from .. import calibration, imageio
from ..inference import Answer, answer
from ..preprocess import _background as background_surface
from ..saliency import enlarge, overlay
from .context import AppContext

# task -> the data sets whose models fit it
TASKS = {
    "Clothing": ("fashion",),
    "Flower": ("flowers5", "flowers102"),
}
PLAIN_BORDER = 60        # grey levels: the photo's edge is "plain" if 80% of it lies within this band
MAX_LIGHT_CHANGE = 130   # grey levels: a lamp brightens one side of a sheet; sky-to-trees is more
DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
HINT = "### Add a photo\nUpload one, take one with the webcam, or paste one - or try an example below."
FAILED = "### That did not work\nThe message in the corner says why. Try another photo."


# --- choosing a model ------------------------------------------------------------------------

def model_choices(zoo, task: str) -> list[tuple[str, str]]:
    return zoo.choices(TASKS[task])


def pick_model(zoo, task: str, key: str | None):
    """The loaded model for ``key`` when it fits the task, else the task's default."""
    if task not in TASKS:
        raise gr.Error(f"Choose what is in the photo: {' or '.join(TASKS)}.")
    keys = [k for _, k in model_choices(zoo, task)]
    key = key if key in keys else zoo.default(TASKS[task])
    if key is None:
        data = "Fashion-MNIST" if task == "Clothing" else "Flowers"
        raise gr.Error(f"There is no {task.lower()} model yet. Train one on {data} in the Train tab "
                       "(or ask your teacher to copy the shipped checkpoints into checkpoints/).")
    try:
        return zoo.get(key)
    except (KeyError, ValueError) as err:
        raise gr.Error(f"The model '{key}' could not be loaded ({err}). Pick another one.") from err


# --- judging the answer ----------------------------------------------------------------------

def scene_problem(image: Image.Image) -> str | None:
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
        return "The background is not plain, so I cannot tell the item apart from it"
    filled = np.mean(away > PLAIN_BORDER)
    if filled < 0.01:
        return "I cannot find an object in this photo: it looks almost plain"
    if filled > 0.85:
        return "Something fills the whole photo, so I cannot see the item's outline"
    return None


def is_sure(probs: dict[str, float], task: str = "Flower") -> bool:
    """The app's one "not sure" rule (cnnlab.calibration.SURE) on calibrated probabilities."""
    return calibration.is_sure(probs.values(), "clothing" if task == "Clothing" else "photo")


def verdict(result: Answer, task: str, problem: str | None = None) -> tuple[bool, str]:
    """(sure, Markdown) in plain language; unsure whenever the photo or the numbers say so."""
    ranked = sorted(result.probs.items(), key=lambda kv: -kv[1])
    (top, p1), (second, p2) = ranked[0], ranked[1]
    known = ", ".join(result.probs) if len(result.probs) <= 10 else f"{len(result.probs)} kinds of flower"
    if problem is None and is_sure(result.probs, task):
        scope = "" if task == "Clothing" else (
            f"\n\n*I only know {known}: any other flower (or anything else) still gets one of these names.*")
        return True, f"## {top}\nI'm fairly sure: **{p1:.0%}** (next: {second}, {p2:.0%}).{scope}"
    thing = "clothes" if task == "Clothing" else "flowers"
    why = f"{problem}. " if problem else ""
    tip = ("Photograph one whole item on a plain background (a sheet, a table, a wall)."
           if task == "Clothing" else "Get close to one flower so it fills most of the photo.")
    return False, (f"## I'm not sure - this doesn't look like the {thing} I was trained on.\n"
                   f"{why}My best guess is **{top}** ({p1:.0%}), then {second} ({p2:.0%}) - "
                   f"don't trust it. I only know: {known}.\n\n*Tip: {tip}*")


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
    raise imageio.ImageInputError("The photo arrived in a form this app cannot read; "
                                  "please upload it as a file.")


def read_photo(value, cache: dict | None) -> tuple[imageio.Photo | None, dict | None]:
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
        raise gr.Error(str(err), title="That photo did not work", print_exception=False) from err
    for note in photo.notes:
        gr.Info(note)
    return photo, {"key": key, "photo": photo}


def classify_photo(zoo, value, task: str, model_key: str | None, show_saliency: bool,
                   cache: dict | None = None):
    """Verdict, top classes, what the model sees, the saliency overlay, and this user's cache."""
    photo, cache = read_photo(value, cache)
    if photo is None:
        return HINT, None, None, gr.update(value=None, visible=bool(show_saliency)), cache
    loaded = pick_model(zoo, task, model_key)
    result = answer(loaded, photo.image, with_saliency=bool(show_saliency))
    _, text = verdict(result, task, scene_problem(photo.image) if task == "Clothing" else None)
    seen = result.prepared.seen
    seen = enlarge(seen) if seen.ndim == 2 else seen
    # Heat over a grey copy of the photo: orange stays visible on an orange flower or a red shoe.
    heat = (overlay(np.asarray(photo.image.convert("L")), result.saliency, result.prepared)
            if show_saliency else None)
    return text, result.probs, seen, gr.update(value=heat, visible=bool(show_saliency)), cache


def example_rows() -> tuple[list[list[str]], list[str]]:
    """Example photos: Fashion-MNIST items made to look like shop photos (demo/), plus
    scikit-learn's sample photos (a flower, and a temple that is not clothing) copied at run time."""
    rows, labels = [], []
    for path in sorted(DEMO_DIR.glob("fashion-*.jpg")):
        rows.append([str(path), "Clothing"])
        labels.append(path.stem.removeprefix("fashion-").replace("-", " "))
    spec = importlib.util.find_spec("sklearn")
    if spec and spec.submodule_search_locations:
        images = Path(spec.submodule_search_locations[0]) / "datasets" / "images"
        out = Path(tempfile.gettempdir()) / "cnnlab-examples"
        for name, task, label in (("flower.jpg", "Flower", "dahlia (not one of the 5)"),
                                  ("china.jpg", "Clothing", "not clothing")):
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
    gr.Markdown("Show the network a photo. The **Clothing** model learned from 28x28 grey "
                "Fashion-MNIST pictures; see below how your photo is turned into one. "
                "The shipped **Flower** model knows five flowers: daisy, dandelion, rose, sunflower "
                "and tulip.")
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            task = gr.Radio(list(TASKS), value="Clothing", label="What is in the photo?",
                            elem_id="photo-task")
            model = gr.Dropdown(model_choices(zoo, "Clothing"), value=zoo.default(TASKS["Clothing"]),
                                label="Model", elem_id="photo-model")
            photo = gr.Image(sources=["upload", "webcam", "clipboard"], type="filepath",
                             label="Your photo", elem_id="photo-input", height=360)
            show_saliency = gr.Checkbox(False, label="Show where the model looked (saliency)",
                                        elem_id="photo-saliency")
        with gr.Column(scale=1, min_width=300):
            answer_md = gr.Markdown(HINT, label="Answer", elem_id="photo-verdict")
            probs = gr.Label(num_top_classes=3, label="Top 3 guesses", elem_id="photo-probs",
                             show_heading=False)       # the verdict above says it, with doubts
            seen = gr.Image(label="What the model sees", elem_id="photo-seen", interactive=False,
                            height=280, format="png", buttons=[])
            heat = gr.Image(label="Where the model looked (orange), on your photo",
                            elem_id="photo-heat", interactive=False, visible=False, height=360,
                            format="jpeg", buttons=[])
    rows, labels = example_rows()
    if rows:
        gr.Examples(rows, [photo, task], example_labels=labels, label="Examples")
    cache = gr.State(None)                # this user's decoded photo, reused for toggles
    zoo_version = gr.State(zoo.version)   # which list of models this user's dropdown shows

    def classify(photo, task, model, show_saliency, cache):       # argument names = API names
        return classify_photo(zoo, photo, task, model, show_saliency, cache)

    outputs = [answer_md, probs, seen, heat, cache]
    run = gr.on([photo.change, model.change, show_saliency.change], classify,
                [photo, task, model, show_saliency, cache], outputs, api_name="classify_photo",
                api_description="Classify a photo of clothing (task 'Clothing') or a flower ('Flower'): "
                "a verdict that says when the model is unsure, the top 3, and what the model sees.",
                preprocess=False, concurrency_limit=2, concurrency_id="photo",
                show_progress="minimal")
    run.failure(lambda: (FAILED, None, None, gr.update(value=None)), None, outputs[:4],
                api_visibility="private", queue=False)
    task.change(lambda t: (gr.update(choices=model_choices(zoo, t), value=zoo.default(TASKS[t])),
                           zoo.version),
                task, [model, zoo_version], api_name="photo_models", api_visibility="undocumented", queue=False)

    def refresh(t, current, seen_version):   # a run trained since the page opened joins the list
        if seen_version == zoo.version:
            return gr.skip(), seen_version
        keys = [k for _, k in model_choices(zoo, t)]
        value = current if current in keys else zoo.default(TASKS[t])
        return gr.update(choices=model_choices(zoo, t), value=value), zoo.version

    for event in ([tab.select] if isinstance(tab, gr.Tab) else []) + [demo.load]:
        event(refresh, [task, model, zoo_version], [model, zoo_version], api_visibility="private",
              queue=False)
