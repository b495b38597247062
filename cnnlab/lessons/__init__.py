"""Each lesson's logic, one package (or module) per lesson: playground, weather, own classes,
class board, inside.

Belongs here: what one tab teaches, apart from how the page shows it. No Gradio; it may import
``core`` and ``server``, never ``ui``.
"""
