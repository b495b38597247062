"""Inside a network: what every layer computes for one input, for the Inside tab.

- ``stages``: the walk through the layers (``walk``: forward hooks, batch norm folded in) and the
  multiply-and-add at one pixel of a convolution (``multiply_add``); a photo model's early and
  late channels (``photo_channels``).
- ``pictures``: maps as small palette images and one-row sprites.
- ``filters``: the first layer's filters with the test patches that excite each most, cached per
  checkpoint file (``PatchCache``); an MLP's first layer as 28x28 templates.
- ``live``: ``LiveInside``, the shared job's listener behind the live view during training.

The names below are the package's public ones, so ``from cnnlab import inside; inside.walk(...)``
reads as before the split.
"""
from .filters import (
    PATCH_CACHE_SIZE,
    PATCH_IMAGES,
    PATCHES_PER_FILTER,
    TEMPLATES,
    FilterPatches,
    PatchCache,
    Templates,
    filter_patches,
    receptive_field,
    templates,
)
from .live import LIVE_EVERY_S, LiveInside, LiveView
from .pictures import (
    PALETTE,
    STEPS,
    ZERO,
    heatmap,
    indexed_image,
    layer_scale,
    scale_of,
    strip,
    strip_image,
    to_index,
    vector_image,
)
from .stages import (
    PHOTO_CHANNELS,
    Channels,
    MultiplyAdd,
    Stage,
    Walk,
    multiply_add,
    pair,
    photo_channels,
    run_hooked,
    shape_text,
    walk,
)

__all__ = [
    # filters
    "PATCH_CACHE_SIZE", "PATCH_IMAGES", "PATCHES_PER_FILTER", "TEMPLATES", "FilterPatches", "PatchCache",
    "Templates", "filter_patches", "receptive_field", "templates",
    # live
    "LIVE_EVERY_S", "LiveInside", "LiveView",
    # pictures
    "PALETTE", "STEPS", "ZERO", "heatmap", "indexed_image", "layer_scale", "scale_of", "strip", "strip_image",
    "to_index", "vector_image",
    # stages
    "PHOTO_CHANNELS", "Channels", "MultiplyAdd", "Stage", "Walk", "multiply_add", "pair", "photo_channels",
    "run_hooked", "shape_text", "walk",
]
