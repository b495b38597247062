"""Inside tab: what every layer of the network computes for the student's drawing, live.

On every stroke one request (``/inside_show``) returns the whole walk through the network as
one compact HTML: the 28x28 input, every convolution's feature maps (all channels, one palette
PNG sprite per layer, one colour scale per layer or one for all), ReLU, pooling, flatten, dense
and the softmax bars, each labelled with its tensor shape and parameter count. Clicking a map
(a button: keyboard and touch alike) opens it large with the kernel that made it and the
multiply-and-add at a pixel the student picks (``/inside_open``). Below: the first layer's
filters with the test patches that excite each most (cached per checkpoint), the class's
training run live (the first layer and the maps of a fixed test picture, polled once a second),
and early and late channels of the transfer model on a photo.

- ``tab``: the layout, the handlers (``show``, ``open_map``) and their wiring (``build``)
- ``inputs``: the model key, the drawing and the opened map of a request, checked
- ``walk_view`` / ``detail_view`` / ``panels``: the HTML of the walk, of an opened map, and of
  the filters, live and photo panels
- ``text``: how the tab prints numbers and notes (its words: cnnlab/i18n, section "inside");
  ``style``: its CSS and page-side scripts
"""
from .panels import LiveRenderer
from .tab import build, open_map, show

__all__ = ["LiveRenderer", "build", "open_map", "show"]
