"""cnnlab: a classroom deep-learning lab in the browser.

    python app.py                       # http://127.0.0.1:7860 on this laptop
    python app.py --lan                 # the whole class joins over the school network
    python app.py --tabs draw,train     # only the tabs this lesson needs
    python app.py --lan --lesson cnn-20 # lead the class through a lesson plan (cnnlab/lessons/plans)
    gradio app.py                       # the same app in Gradio's reload mode (for developers)

With no flags, Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured (containers and
Hugging Face Spaces set them). Whenever the app listens beyond this laptop, teacher actions need a
key: --teacher-key, $CNNLAB_TEACHER_KEY, or one made up at start and printed in this terminal.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # offline: no version checks, no analytics
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gradio as gr  # (after the offline settings above)

from cnnlab.config import LOOPBACK, AppConfig
from cnnlab.lessons import plans
from cnnlab.server import gradio_compat, web
from cnnlab.server import lead as leading
from cnnlab.server.classroom import TeacherKey, generate_key, join_url, qr_text
from cnnlab.ui import header, lang, tabs
from cnnlab.ui import lead as lead_page
from cnnlab.ui.context import AppContext, build_context
from cnnlab.ui.lang import T
from cnnlab.ui.theme import theme_and_css


def build_demo(config: AppConfig | None = None, ctx: AppContext | None = None) -> gr.Blocks:
    """The whole app. Nothing heavy happens here: models load on first use. A Gradio other than the
    pinned one stops it here, with one sentence (``gradio_compat.self_check``)."""
    gradio_compat.self_check()
    config = config or AppConfig()
    ctx = ctx or build_context(config)
    with gr.Blocks(title="cnnlab", analytics_enabled=False, delete_cache=config.delete_cache) as demo:
        header.build(ctx, demo)
        offered = tabs.build_tabs(ctx, demo, tabs.select(config.tabs))
        gr.Markdown(T("legend.signs"), elem_id="legend-signs")      # one colour language, said once
    demo.ctx, demo.offered = ctx, offered           # for tests and benchmarks
    demo.lead = lead_state(config)                  # where the class is (served beside Gradio: launch_kwargs)
    return demo


def lead_state(config: AppConfig) -> leading.Lead:
    """The class's shared place (tab, preset, plan step) for the tabs this app shows."""
    offered = [t.id for t in tabs.select(config.tabs)]
    plan = plans.load(config.lesson, offered) if config.lesson else None
    return leading.Lead(offered, plans.PRESETS, plan)


def launch_kwargs(config: AppConfig, demo: gr.Blocks | None = None) -> dict:
    """Everything ``demo.launch`` needs: the look, bounded sessions (gradio_compat), and our own
    routes beside Gradio's, none through its queue: lead and follow, the page's script files and
    (with ``demo``) the weights its browser runs; every response compressed."""
    theme, css = theme_and_css(projector=config.projector)
    lead = demo.lead if demo is not None else lead_state(config)
    kwargs = gradio_compat.launch_kwargs()
    join = join_url(config.host, config.port) if config.host not in LOOPBACK else None
    app_kwargs = kwargs["app_kwargs"]
    app_kwargs["routes"] = [*leading.routes(lead, TeacherKey(config.teacher_key), join),
                            *web.routes(demo.ctx.zoo if demo is not None else None),
                            *(feed.routes() if (feed := getattr(demo, "offered", {}).get("train_feed")) else [])]
    app_kwargs["middleware"] += web.middleware()
    head = lang.head() + lead_page.head(list(lead.tabs), lead.presets, key_required=bool(config.teacher_key))
    return dict(server_name=config.host, server_port=config.port, theme=theme, css=css,
                footer_links=[], max_file_size=config.max_file_size, show_error=True,
                enable_monitoring=False, i18n=lang.gradio_i18n(), head=head, **kwargs)


def parse_args(argv=None, env=os.environ) -> AppConfig:
    """Flags first, then the environment (GRADIO_SERVER_NAME/PORT, CNNLAB_*), then defaults. A
    server reachable from other machines always gets a teacher key unless --no-teacher-key."""
    d = AppConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=None, help=f"address to listen on (default: $GRADIO_SERVER_NAME or {d.host})")
    p.add_argument("--lan", action="store_true", help="serve the school network (host 0.0.0.0)")
    p.add_argument("--port", type=int, default=None, help=f"port (default: $GRADIO_SERVER_PORT or {d.port})")
    p.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ./data)")
    p.add_argument("--download", action="store_true", help="let torchvision download missing data sets")
    p.add_argument("--checkpoints", default=d.checkpoint_dir, help="folder of shipped checkpoints")
    p.add_argument("--runs-dir", default=d.runs_dir, help="where trained runs and the class board are kept")
    p.add_argument("--teacher-key", default=env.get("CNNLAB_TEACHER_KEY"),
                   help="passcode for teacher actions (default: $CNNLAB_TEACHER_KEY; on the LAN one is "
                        "made up and printed when none is given)")
    p.add_argument("--no-teacher-key", action="store_true",
                   help="on the LAN too, let anyone start runs and clear the board (not recommended)")
    p.add_argument("--projector", action="store_true", help="large type and high contrast for a projector")
    p.add_argument("--tabs", default=None,
                   help=f"the tabs this lesson shows, comma-separated (default: all: "
                        f"{','.join(t.id for t in tabs.TABS)}; with --lesson: the plan's)")
    p.add_argument("--lesson", default=None, metavar="NAME",
                   help=f"lead the class through a lesson plan, showing its tabs (plans: "
                        f"{', '.join(plans.names())}; or the path of a plan's .json file)")
    a = p.parse_args(argv)
    if a.tabs is not None:
        try:
            tabs.select(a.tabs)
        except ValueError as err:
            p.error(str(err))
    if a.lesson is not None:
        try:
            plan = plans.load(a.lesson, [t.id for t in tabs.select(a.tabs)])
        except plans.PlanError as err:
            p.error(str(err))
        if a.tabs is None:
            a.tabs = ",".join(plan.tabs)
    host = "0.0.0.0" if a.lan else (a.host or env.get("GRADIO_SERVER_NAME") or d.host)
    port = a.port or int(env.get("GRADIO_SERVER_PORT") or d.port)
    key = None if a.no_teacher_key else a.teacher_key
    generated = key is None and not a.no_teacher_key and host not in LOOPBACK
    return AppConfig(host=host, port=port, data_dir=a.data_dir, checkpoint_dir=a.checkpoints,
                     runs_dir=a.runs_dir, teacher_key=generate_key() if generated else key,
                     teacher_key_generated=generated, allow_download=a.download, projector=a.projector,
                     tabs=a.tabs, lesson=a.lesson)


def printable(text: str, stream=None) -> bool:
    """Whether the terminal's encoding can show ``text``."""
    stream = stream or sys.stdout
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def announce(config: AppConfig) -> None:
    """What the teacher reads in the terminal: where students join, and the teacher key."""
    if config.host not in LOOPBACK:
        url = join_url(config.host, config.port)
        print(f"\nStudents join at  {url}", flush=True)
        if printable(code := qr_text(url)):     # a Chinese Windows console (GBK) has no half blocks
            print(code, flush=True)
    if config.teacher_key_generated:
        print(f"Teacher key (starting runs, leading the class, the class board's teacher actions): "
              f"{config.teacher_key}\n"
              "Keep it to yourself; start with --teacher-key to choose your own.\n", flush=True)
    elif config.host not in LOOPBACK and not config.teacher_key:
        print("No teacher key: anyone on the network may start runs and clear the class board.\n", flush=True)
    if config.lesson:
        plan = plans.load(config.lesson)
        print(f"Lesson: {plan.title_in('en')} ({len(plan.steps)} steps). Lead the class from the page on this "
              f"laptop (http://127.0.0.1:{config.port}, 'Lead the class'), or add ?lead to the address.\n",
              flush=True)


def launch(demo: gr.Blocks, config: AppConfig) -> None:
    # max_size: what may wait (board submissions, training, exports); the class's polling (the Train
    # tick, the page's load events) goes outside the queue, so 120 phones do not fill it.
    demo.queue(default_concurrency_limit=4, max_size=256)
    announce(config)
    demo.launch(**launch_kwargs(config, demo))


# Gradio's convention: a module-level ``demo`` (``gradio app.py`` reloads it). Run as a script,
# it is built from the command line; imported, from the environment and defaults.
CONFIG = parse_args() if __name__ == "__main__" else parse_args([])
demo = build_demo(CONFIG)

if __name__ == "__main__":
    launch(demo, CONFIG)
