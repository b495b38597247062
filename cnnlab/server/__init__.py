"""One laptop, fifty users: the shared training job, the lesson's runs, the model zoo, temporary
files, the classroom (join address, teacher key) and ``gradio_compat`` (every Gradio internal the
app relies on, checked at start-up).

Belongs here: what exists because one server serves the whole class. It may import ``core``;
no Gradio page (``ui``) and no lesson's logic.
"""
