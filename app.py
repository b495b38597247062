"""cnnlab: a classroom deep-learning lab in the browser.

    python app.py                 # http://127.0.0.1:7860 on this laptop
    python app.py --lan           # the whole class joins over the school network
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # offline: no version checks, no analytics
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # noqa: E402

from cnnlab import serving  # noqa: E402
from cnnlab.config import AppConfig  # noqa: E402
from cnnlab.ui import header  # noqa: E402
from cnnlab.ui.context import AppContext  # noqa: E402
from cnnlab.zoo import ModelZoo  # noqa: E402

# Tabs in the order a lesson uses them: (tab title, module with build(ctx)).
TABS = [
    ("Draw", "cnnlab.ui.draw"),
    ("Photo", "cnnlab.ui.photo"),
    ("Train", "cnnlab.ui.train"),
    ("t-SNE", "cnnlab.ui.tsne"),
    ("Class board", "cnnlab.ui.board"),
]


def build_context(config: AppConfig | None = None) -> AppContext:
    config = config or AppConfig()
    ctx = AppContext(config, ModelZoo(config.checkpoint_dir))
    if importlib.util.find_spec("cnnlab.jobs"):
        from cnnlab.jobs import TrainJob
        ctx.job = TrainJob(ctx)
    if importlib.util.find_spec("cnnlab.board"):
        from cnnlab.board import BoardStore
        ctx.extras["board"] = BoardStore(Path(config.runs_dir) / "board.sqlite")
    return ctx


def build_demo(config: AppConfig | None = None, ctx: AppContext | None = None) -> gr.Blocks:
    """The whole app. Nothing heavy happens here: models load on first use."""
    ctx = ctx or build_context(config)
    with gr.Blocks(title="cnnlab", analytics_enabled=False) as demo:
        header.build(ctx, demo)
        for title, module in TABS:
            if importlib.util.find_spec(module) is None:     # tab not part of this build
                continue
            with gr.Tab(title, id=title.lower().replace(" ", "-")):
                importlib.import_module(module).build(ctx, demo)
    demo.ctx = ctx
    return demo


def launch_kwargs(config: AppConfig) -> dict:
    from cnnlab.ui.theme import theme_and_css
    theme, css = theme_and_css(projector=bool(config.extra.get("projector")))
    return dict(server_name=config.host, server_port=config.port, theme=theme, css=css,
                footer_links=[], max_file_size=config.max_file_size, show_error=True,
                enable_monitoring=False, **serving.launch_kwargs())


def parse_args(argv=None) -> AppConfig:
    d = AppConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=d.host, help=f"address to listen on (default: {d.host})")
    p.add_argument("--lan", action="store_true", help="serve the school network (host 0.0.0.0)")
    p.add_argument("--port", type=int, default=d.port, help=f"port (default: {d.port})")
    p.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ./data)")
    p.add_argument("--download", action="store_true", help="let torchvision download missing data sets")
    p.add_argument("--checkpoints", default=d.checkpoint_dir, help="folder of shipped checkpoints")
    p.add_argument("--runs-dir", default=d.runs_dir, help="where trained runs and the class board are kept")
    p.add_argument("--teacher-key", default=os.environ.get("CNNLAB_TEACHER_KEY"),
                   help="passcode for teacher actions (default: $CNNLAB_TEACHER_KEY; none = anyone)")
    p.add_argument("--projector", action="store_true", help="large type and high contrast for a projector")
    a = p.parse_args(argv)
    return AppConfig(host="0.0.0.0" if a.lan else a.host, port=a.port, data_dir=a.data_dir,
                     checkpoint_dir=a.checkpoints, runs_dir=a.runs_dir, teacher_key=a.teacher_key,
                     allow_download=a.download, extra={"projector": a.projector, "lan": a.lan})


def main(argv=None) -> None:
    config = parse_args(argv)
    demo = build_demo(config)
    demo.queue(default_concurrency_limit=4, max_size=256)
    if config.host != "127.0.0.1":
        from cnnlab.classroom import join_url, qr_text
        url = join_url(config.host, config.port)
        print(f"\nStudents join at  {url}\n{qr_text(url)}", flush=True)
    demo.launch(**launch_kwargs(config))


if __name__ == "__main__":
    main()
