"""The library every lesson and page stands on: data sets, preprocessing, training, checkpoints,
calibration, novelty, t-SNE, inference, code generation (``nets/``: the networks).

Belongs here: what would still make sense in a script with no server and no page. No Gradio, and
nothing from ``cnnlab.server``, ``cnnlab.lessons`` or ``cnnlab.ui`` (imports go down only).
"""
