"""The Playground: toy data sets and tiny networks, one per student, trained in the student's own
browser (cnnlab/ui/web/playground/). The server keeps only what is asked for on demand:

- ``settings``: the settings, their limits and the checks (a sentence for what is wrong);
- ``data``: the toy data sets as PyTorch makes them, the features, activations and optimizers;
- ``code``: the PyTorch code of a setting, and of the optimizer race;
- ``gif``: the GIF of a run, from the frames the page sends once.

Nothing here knows about Gradio.
"""
from __future__ import annotations

from .code import RACE_BATCH, RACE_LR, RACE_NAMES, RACE_POINTS, RACE_STEPS, code_for, race_code
from .data import ACTIVATIONS, DATASETS, FEATURE_CODE, FEATURES, FEATURES_1D, OPTIMIZERS, REGULARIZATIONS, ToyData
from .gif import MAX_GIF_FRAMES, gif_data_url, gif_from_frames
from .settings import (
                   CLASSES_RANGE,
                   LIMITS,
                   LR_RANGE,
                   MAX_HIDDEN_LAYERS,
                   MAX_NEURONS,
                   MAX_OWN_POINTS,
                   MAX_POINTS,
                   MAX_RUN_STEPS,
                   MAX_SEED,
                   MAX_STEP_WORK,
                   MAX_STEPS_PER_FRAME,
                   MIN_POINTS,
                   NOISE_RANGE,
                   PRESET_STEPS,
                   PRESETS,
                   REG_RATE_RANGE,
                   TRAIN_RATIO_RANGE,
                   Settings,
                   SettingsError,
                   check_settings,
                   classes_of,
                   from_browser,
                   max_batch,
                   usable,
                   weight_count,
)

__all__ = [
    "ACTIVATIONS", "CLASSES_RANGE", "DATASETS", "FEATURES", "FEATURES_1D", "FEATURE_CODE", "LIMITS", "LR_RANGE",
    "MAX_GIF_FRAMES", "MAX_HIDDEN_LAYERS", "MAX_NEURONS", "MAX_OWN_POINTS", "MAX_POINTS", "MAX_RUN_STEPS",
    "MAX_SEED", "MAX_STEP_WORK", "MAX_STEPS_PER_FRAME", "MIN_POINTS", "NOISE_RANGE", "OPTIMIZERS", "PRESETS",
    "PRESET_STEPS",
    "RACE_BATCH", "RACE_LR", "RACE_NAMES", "RACE_POINTS", "RACE_STEPS", "REGULARIZATIONS", "REG_RATE_RANGE",
    "TRAIN_RATIO_RANGE", "Settings", "SettingsError", "ToyData", "check_settings", "classes_of", "code_for",
    "from_browser", "gif_data_url", "gif_from_frames", "max_batch", "race_code", "usable", "weight_count",
]
