"""Class board tab: the whole class's drawings and confusion matrix, live on the projector.

``build_submit`` is the row the Draw tab embeds under its canvas (tap the digit you meant, optional
nickname); ``build`` is the board itself (latest drawings, class accuracy, confusion matrix whose
cells open their drawings) with the teacher's controls (new board, clear, export, fine-tune).
Storage and counting live in cnnlab.lessons.board.store, the correction loop in cnnlab.core.finetune. Every word is
in cnnlab/i18n (section "board"); what a handler makes is in the reader's language (the shared
board view is rendered once per change and language).
"""
from __future__ import annotations

import html
import threading
from datetime import datetime

import gradio as gr
import numpy as np
import pandas as pd

from ..config import LIMITS
from ..core import finetune as ft
from ..core.datasets import DataMissingError
from ..core.plots import RIGHT, WRONG
from ..i18n import DEFAULT, Refusal, Text, refusal_of, say, template, tr
from ..lessons.board.drawings import NICKNAME_MAX, NUM_CLASSES, BoardError, Submission, Summary, Thumbnails, check_digit
from ..lessons.board.store import FIRST_TITLE
from .common import refusing, teacher_only
from .inputs import flag, number
from .lang import T, lang_of

LATEST_SHOWN = 24          # drawings in the live gallery: four rows of six on a projector
CELL_SHOWN = 60            # drawings shown for one cell of the confusion matrix
TICK_S = 1.0               # how often a board viewer asks "anything new?" (one tiny query)
ANY = "any"
MIX_DIGITS = 300           # MNIST training digits mixed in when the teacher ticks the box


# ---------------------------------------------------------------- what the pages show (pure)

def confirmation_html(s: Submission, duplicate: bool = False, lang: str = DEFAULT) -> str:
    """The message a student sees after tapping a digit. The nickname is escaped."""
    colour = RIGHT if s.correct else WRONG
    verdict = tr(lang, "board.verdict_right" if s.correct else "board.verdict_wrong")
    lead = tr(lang, ("board.lead_again" if duplicate else "board.lead_sent") + ("_who" if s.nickname else ""),
              who=html.escape(s.nickname))
    return (f"<div id='board-confirm-text' style='border-left: 6px solid {colour}; padding: 0.4em 0.8em'>"
            + tr(lang, "board.confirmation", lead=lead, meant=s.intended, saw=s.predicted, share=max(s.probs),
                 verdict=verdict) + "</div>")


def board_title(title: str, lang: str = DEFAULT) -> str:
    """A board's name as a reader sees it (the first board's automatic name in the reader's language)."""
    return tr(lang, "board.first_title") if title == FIRST_TITLE else title


def header_html(summary: Summary, lang: str = DEFAULT) -> str:
    title = html.escape(board_title(summary.session.title, lang))
    if not summary.total:
        return f"<div id='board-accuracy'>{tr(lang, 'board.header_empty', title=title)}</div>"
    big = (f"<span style='font-size: 2em; font-weight: 800; color: {RIGHT}'>"
           f"{tr(lang, 'board.header_share', accuracy=summary.accuracy)}</span>")
    wrong = (f"<span style='color: {WRONG}; font-weight: 700'>"
             f"{tr(lang, 'board.header_wrong', n=summary.total - summary.correct)}</span>")
    return ("<div id='board-accuracy' style='font-size: 1.3em'>"
            + tr(lang, "board.header", title=title, share=big, correct=summary.correct, total=summary.total,
                 wrong=wrong) + "</div>")


def confusion_table(cm: np.ndarray, lang: str = DEFAULT):
    """The confusion matrix as a styled table: rows the digit meant, columns the digit seen;
    the diagonal (right) in blue, mistakes in orange, darker for more drawings, zeros blank."""
    cm = np.asarray(cm)
    df = pd.DataFrame(cm, columns=[str(d) for d in range(NUM_CLASSES)])
    df.insert(0, tr(lang, "board.col_meant"), [str(d) for d in range(NUM_CLASSES)])
    peak = max(int(cm.max()), 1)

    def colours(frame: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=frame.index, columns=frame.columns)
        for r in range(NUM_CLASSES):
            for c in range(NUM_CLASSES):
                n = int(cm[r, c])
                if n:
                    alpha = 0.25 + 0.75 * n / peak
                    rgb = RIGHT if r == c else WRONG
                    text = "white" if alpha > 0.55 else "black"
                    css.iloc[r, c + 1] = (f"background-color: {rgb}{round(alpha * 255):02x}; color: {text}; "
                                          "font-weight: 700")
        css.iloc[:, 0] = "font-weight: 700"
        return css

    return df.style.apply(colours, axis=None).format(lambda n: str(n) if n else "", subset=df.columns[1:])


def caption(s: Submission, lang: str = DEFAULT) -> str:
    """A drawing's caption (plain text, never HTML: a nickname cannot inject markup)."""
    text = tr(lang, "board.caption", mark="✓" if s.correct else "✗", meant=s.intended, saw=s.predicted)
    return f"{text} · {s.nickname}" if s.nickname else text


def gallery_items(subs: list[Submission], thumbs: Thumbnails, lang: str = DEFAULT) -> list[tuple[str, str]]:
    return [(thumbs.path(s), caption(s, lang)) for s in subs]


def cell_caption(meant: str, saw: str, n: int, lang: str = DEFAULT) -> str:
    which = ("meant" if meant != ANY else "") + ("saw" if saw != ANY else "")
    what = tr(lang, f"board.cell_{which or 'all'}", meant=meant, saw=saw)
    if not n:
        return tr(lang, "board.cell_none_all" if not which else "board.cell_none", what=what)
    return tr(lang, "board.cell_one" if n == 1 else "board.cell_many", n=n, what=what)


def training_running(ctx) -> bool:
    """True while the class's shared training run is going (fine-tuning then would halve both)."""
    running = getattr(ctx.job, "is_running", False)
    return bool(running() if callable(running) else running)


def _cell_filter(value) -> int | None:
    return None if value in (None, "", ANY) else check_digit(value)


# ---------------------------------------------------------------- submit row (in the Draw tab)

def build_submit(ctx, demo: gr.Blocks, sketch, last_prediction, recognise=None, extra=()) -> None:
    """Under the Draw tab's canvas: ten digit buttons (one tap sends the drawing with the digit
    the student meant), an optional nickname, a confirmation and "take back my last drawing".

    ``last_prediction`` is the Draw tab's gr.State: {"seen": 28x28 uint8, "pred": int,
    "probs": 10 floats, "model": key} or None while the canvas is empty. With ``recognise``
    (called with the values of ``extra``: the canvas and the model key, and the request), the page's buttons
    recognise the drawing they send instead (the browser answered its strokes: no record).
    """
    store = ctx.board

    @refusing
    def submit(digit, nickname, prediction, request: gr.Request):
        lang = lang_of(request)
        try:
            intended = check_digit(digit)
            if not prediction:
                raise BoardError(Text("board.draw_first"))
            result = store.add(prediction["seen"], intended, prediction["pred"], prediction["probs"],
                               prediction.get("model", ""), request.session_hash, nickname)
        except (BoardError, KeyError, TypeError) as err:
            raise (err if isinstance(err, BoardError) else Refusal(Text("board.draw_again"))) from None
        # Clear the canvas (and the prediction with it): one drawing, one submission.
        return confirmation_html(result.submission, result.duplicate, lang), None, None

    @refusing
    def take_back(request: gr.Request):
        lang = lang_of(request)
        removed = store.undo_last(request.session_hash)
        if removed is None:
            return f"<div id='board-confirm-text'>{tr(lang, 'board.nothing_to_take_back')}</div>"
        return (f"<div id='board-confirm-text'>"
                f"{tr(lang, 'board.taken_back', meant=removed.intended, saw=removed.predicted)}</div>")

    with gr.Group(elem_id="board-submit"):
        gr.Markdown(T("board.submit_title"), elem_id="board-submit-title")
        with gr.Row(elem_id="board-digits"):
            buttons = [gr.Button(str(d), elem_id=f"meant-{d}", min_width=44, size="lg") for d in range(NUM_CLASSES)]
        with gr.Row(equal_height=True):
            # The placeholder's number is NICKNAME_MAX (tests/test_i18n_train_board.py checks it).
            nickname = gr.Textbox(label=T("board.nickname"), placeholder=T("board.nickname_placeholder"),
                                  max_length=NICKNAME_MAX, max_lines=1, elem_id="board-nickname", scale=3)
            undo = gr.Button(T("board.undo"), elem_id="board-undo", size="sm", scale=1)
        confirm = gr.HTML(elem_id="board-confirm")
        # The API's digit (the page sends a button's label instead); never shown.
        digit_in = gr.Number(label="digit", precision=0, visible=False, elem_id="board-api-digit")
    @refusing
    def page_submit(digit, nickname, prediction, drawing=None, key=None, request: gr.Request = None):
        if recognise is not None:
            prediction = recognise(drawing, key, request=request)
        return submit(digit, nickname, prediction, request)

    for button in buttons:
        # Each button passes its own label as the digit: page only (the API has /board_submit below).
        button.click(page_submit, [button, nickname, last_prediction, *extra], [confirm, sketch, last_prediction],
                     api_visibility="private", concurrency_id="board_submit", concurrency_limit=8,
                     show_progress_on=[confirm])

    @refusing
    def board_submit(digit, nickname: str | None = None, prediction=None, request: gr.Request = None):
        return submit(digit, nickname, prediction, request)

    # No trigger on the page: an endpoint for scripts and phones. Raw values (preprocess=False), so a
    # digit out of range gets the board's own sentence ("... a digit from 0 to 9 ...").
    gr.on([], board_submit, [digit_in, nickname, last_prediction], [confirm, sketch, last_prediction],
          api_name="board_submit", preprocess=False, concurrency_id="board_submit", concurrency_limit=8,
          api_description="Send this session's last drawing (from /predict_drawing or /predict_digit) to "
          "the class board with the digit you meant (0-9) and an optional nickname.")
    undo.click(take_back, None, confirm, api_name="board_undo", concurrency_id="board_submit",
               concurrency_limit=8, show_progress_on=[confirm],
               api_description="Take this session's last drawing back off the class board.")


# ---------------------------------------------------------------- the Class board tab

def build(ctx, demo: gr.Blocks, tab: gr.Tab) -> None:
    store, thumbs = ctx.board, Thumbnails(ctx.scratch.shared_folder("board-thumbs"))
    view_lock = threading.Lock()
    view_cache: dict = {}                       # the board as rendered for one version, shared by viewers
    finetune_lock = threading.Lock()            # one fine-tune at a time

    def board_view(lang: str = DEFAULT):
        """(version, header, gallery items, matrix): computed once per change and language for all viewers."""
        version = store.version()
        with view_lock:
            if view_cache.get("version") == version and lang in view_cache["views"]:
                return view_cache["views"][lang]
        summary = store.summary()
        latest = store.submissions(limit=LATEST_SHOWN)
        # The styled table is serialised once here, not once per viewer (10 ms each).
        table = matrix.postprocess(confusion_table(summary.confusion, lang)).model_dump()
        view = (summary.version, header_html(summary, lang), gallery_items(latest, thumbs, lang), table)
        with view_lock:
            if view_cache.get("version") != summary.version:
                view_cache.update(version=summary.version, views={})
            view_cache["views"][lang] = view
        return view

    def cell_view(meant, saw, lang: str = DEFAULT):
        subs = store.submissions(intended=_cell_filter(meant), predicted=_cell_filter(saw), limit=CELL_SHOWN)
        return gallery_items(subs, thumbs, lang), cell_caption(meant or ANY, saw or ANY, len(subs), lang)

    @refusing
    def refresh(seen_version, meant, saw, request: gr.Request = None):
        if store.version() == seen_version:                  # nothing new: leave the page alone
            return (gr.skip(),) * 6
        lang = lang_of(request)
        version, header, latest, table = board_view(lang)
        cell, caption = cell_view(meant, saw, lang)
        return header, latest, table, cell, caption, version

    @refusing
    def pick_cell(evt: gr.SelectData, request: gr.Request = None):
        row, col = evt.index
        meant, saw = str(row), (ANY if col == 0 else str(col - 1))
        cell, caption = cell_view(meant, saw, lang_of(request))
        return meant, saw, cell, caption

    def board_summary() -> dict:
        """The current board: title, counts, accuracy, confusion matrix (rows = digit meant,
        columns = digit seen) and the latest drawings, newest first."""
        s = store.summary()
        latest = store.submissions(limit=LATEST_SHOWN)
        return {"board": s.session.id, "title": s.session.title, "version": s.version,
                "total": s.total, "correct": s.correct, "accuracy": s.accuracy,
                "confusion": s.confusion.tolist(),
                "latest": [{"id": x.id, "intended": x.intended, "predicted": x.predicted,
                            "nickname": x.nickname, "caption": x.caption, "model": x.model} for x in latest]}

    # -- teacher actions
    @teacher_only(ctx.teacher, Text("board.wrong_key"))
    def new_board(teacher_key: str | None = None, title: str | None = None, request: gr.Request = None):
        lang = lang_of(request)
        s = store.new_session(title, untitled=template(lang, "board.untitled"))
        return tr(lang, "board.new_board", title=html.escape(s.title)), ""

    @teacher_only(ctx.teacher, Text("board.wrong_key"))
    def clear_board(teacher_key: str | None = None, sure: bool = False, request: gr.Request = None):
        lang = lang_of(request)
        if not flag(Text("board.sure_flag"), sure):
            raise Refusal(Text("board.tick_first"))
        n = store.clear()
        return tr(lang, "board.deleted_one" if n == 1 else "board.deleted_many", n=n), False

    def export(kind):
        board = store.current_session()
        folder = ctx.scratch.folder("board-export-")
        name = f"class-board-{board.id}-{datetime.now():%Y%m%d-%H%M}"
        if kind == "csv":
            path = store.export_csv(folder / f"{name}.csv")
        else:
            path = store.export_zip(folder / f"{name}-drawings.zip")
        return str(path)

    def model_choices(lang: str = DEFAULT):
        return ctx.zoo.choices(("mnist",), lang), ctx.zoo.default(("mnist",), latest_first=True)

    @refusing
    def refresh_models(current, request: gr.Request = None):
        choices, default = model_choices(lang_of(request))
        return gr.Dropdown(choices=choices, value=current if current in [k for _, k in choices] else default)

    @teacher_only(ctx.teacher, Text("board.wrong_key"))
    def run_finetune(teacher_key=None, model=None, seconds=ft.FinetuneConfig.time_budget_s, mix_mnist=False,
                     progress=gr.Progress(), request: gr.Request = None):
        lang = lang_of(request)
        model_key, mix = model, flag(Text("board.mix_flag"), mix_mnist)
        seconds = number("finetune_seconds", seconds, ft.FinetuneConfig.time_budget_s)
        if not model_key:
            raise Refusal(Text("board.ft_no_model"))
        subs = store.submissions(newest_first=False)
        if len(subs) < ft.MIN_DRAWINGS:
            raise Refusal(Text("board.ft_too_few", least=ft.MIN_DRAWINGS, n=len(subs)))
        if training_running(ctx):
            raise Refusal(Text("board.ft_training_running"))
        if not finetune_lock.acquire(blocking=False):
            raise Refusal(Text("board.ft_busy"))
        try:
            loaded = ctx.zoo.get(model_key)
            config = ft.FinetuneConfig(time_budget_s=float(seconds), mnist_mix=MIX_DIGITS if mix else 0)
            result = ft.finetune(loaded, np.stack([s.image for s in subs]), [s.intended for s in subs],
                                 ctx.data_root, config, progress=lambda f, text: progress(f, desc=say(lang, text)))
            ft.publish(result, loaded, model_key, ctx.zoo, ctx.config.runs_dir, config,
                       board=store.current_session().title)
        except (ValueError, KeyError, DataMissingError) as err:       # each says what to do
            raise refusal_of(err) from None
        finally:
            finetune_lock.release()
        table = pd.DataFrame(result.rows(lang), columns=ft_headers(lang))
        message = tr(lang, "board.ft_done_message", model=html.escape(model_key), seconds=result.seconds,
                     passes=result.epochs, drawings=result.drawings, latest=tr(lang, "zoo.board_finetuned"))
        return message, table

    def ft_headers(lang: str) -> list[str]:
        return [tr(lang, f"board.ft_col_{c}") for c in ("on", "before", "after", "change")]

    # -- layout
    gr.Markdown(T("board.intro"))
    header = gr.HTML(elem_id="board-header")
    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown(T("board.latest_title"))
            latest = gr.Gallery(label=T("board.latest"), show_label=False, columns=6, height=520,
                                object_fit="contain", fit_columns=False, interactive=False,
                                elem_id="board-gallery")
        with gr.Column(scale=2):
            matrix = gr.Dataframe(label=T("board.matrix"), interactive=False, elem_id="board-matrix",
                                  show_search="none", column_widths=["16%"] + ["8.4%"] * NUM_CLASSES)
            with gr.Row():
                digits = [(T("board.any"), ANY)] + [str(d) for d in range(NUM_CLASSES)]
                cell_meant = gr.Dropdown(digits, value=ANY, label=T("board.cell_meant_label"),
                                         elem_id="board-cell-meant")
                cell_saw = gr.Dropdown(digits, value=ANY, label=T("board.cell_saw_label"), elem_id="board-cell-saw")
            cell_info = gr.Markdown(elem_id="board-cell-info")
            cell = gr.Gallery(label=T("board.cell_gallery"), show_label=False, columns=4, height=300,
                              object_fit="contain",
                              fit_columns=False, interactive=False, elem_id="board-cell")
    with gr.Accordion(T("board.teacher"), open=False, elem_id="board-teacher") as teacher:
        key = gr.Textbox(label=T("board.teacher_key"), type="password", visible=bool(ctx.config.teacher_key),
                         elem_id="board-key")
        with gr.Row():
            title = gr.Textbox(label=T("board.new_title"), max_length=60, scale=3)
            new_btn = gr.Button(T("board.new_btn"), scale=1)
        with gr.Row():
            sure = gr.Checkbox(label=T("board.sure"), scale=3)
            clear_btn = gr.Button(T("board.clear_btn"), variant="stop", scale=1)
        with gr.Row():
            csv_btn = gr.Button(T("board.export_csv"), elem_id="board-export-csv")
            zip_btn = gr.Button(T("board.export_zip"), elem_id="board-export-zip")
        with gr.Row():
            # shown once exported
            csv_file = gr.File(label="CSV", interactive=False, visible=False, elem_id="board-csv")
            zip_file = gr.File(label=T("board.zip_file"), interactive=False, visible=False, elem_id="board-zip")
        teacher_msg = gr.Markdown(elem_id="board-teacher-msg")
        gr.Markdown(T("board.loop"))
        choices, default = model_choices()
        with gr.Row():
            ft_model = gr.Dropdown(choices, value=default, label=T("board.ft_model"), elem_id="board-ft-model",
                                   allow_custom_value=True)     # 'latest' joins once a run has trained
            ft_seconds = gr.Slider(LIMITS["finetune_seconds"].low, LIMITS["finetune_seconds"].high,
                                   value=ft.FinetuneConfig.time_budget_s, step=1,
                                   label=T("board.ft_seconds"))
        # On its own line: beside the slider a phone squeezed it to a word per line. The label's
        # number is MIX_DIGITS (tests/test_i18n_train_board.py checks it in every language).
        ft_mix = gr.Checkbox(label=T("board.ft_mix"))
        ft_btn = gr.Button(T("board.ft_btn"), variant="primary", elem_id="board-ft")
        ft_msg = gr.Markdown(elem_id="board-ft-msg")
        # Hidden until a fine-tune has results (its headers are made in the teacher's language then).
        ft_table = gr.Dataframe(headers=ft_headers(DEFAULT), interactive=False, visible=False,
                                elem_id="board-ft-table")

    # -- events
    seen = gr.State(-1)                         # the board version this viewer shows
    timer = gr.Timer(TICK_S)
    timer.tick(refresh, [seen, cell_meant, cell_saw], [header, latest, matrix, cell, cell_info, seen],
               api_name="board_refresh", api_visibility="undocumented", show_progress="hidden",
               concurrency_limit=None, queue=False)
    matrix.select(pick_cell, None, [cell_meant, cell_saw, cell, cell_info], api_visibility="private",
                  show_progress="hidden")
    @refusing
    def board_cell(meant="any", saw="any", request: gr.Request = None):
        return cell_view(meant, saw, lang_of(request))

    gr.on([cell_meant.input, cell_saw.input], board_cell, [cell_meant, cell_saw], [cell, cell_info],
          api_name="board_cell", show_progress="hidden", preprocess=False,
          api_description="The drawings in one cell of the confusion matrix: the digit meant and the digit "
          "the network saw (each 0-9, or 'any').")
    gr.api(board_summary, api_name="board_summary", concurrency_limit=None,
           api_description="The current board as JSON: title, counts, accuracy, confusion matrix (rows: "
           "digit meant, columns: digit seen) and the latest drawings.")
    new_btn.click(new_board, [key, title], [teacher_msg, title], api_name="board_new",
                  api_description="Teacher: start a new, empty board (earlier boards stay in the database).")
    clear_btn.click(clear_board, [key, sure], [teacher_msg, sure], api_name="board_clear",
                    api_description="Teacher: delete every drawing on this board (sure must be true).")

    @teacher_only(ctx.teacher, Text("board.wrong_key"))
    def board_export_csv(teacher_key: str | None = None, request: gr.Request = None):
        return export("csv")

    @teacher_only(ctx.teacher, Text("board.wrong_key"))
    def board_export_zip(teacher_key: str | None = None, request: gr.Request = None):
        return export("zip")

    for button, fn, output, what in ((csv_btn, board_export_csv, csv_file, "a CSV file (one row per drawing)"),
                                     (zip_btn, board_export_zip, zip_file, "a zip of PNGs in one folder per digit")):
        button.click(fn, key, output, api_name=fn.__name__,
                     api_description=f"Teacher: this board's drawings as {what}.").success(
            lambda: gr.File(visible=True), None, output, queue=False, api_visibility="private")
    ft_model.focus(refresh_models, ft_model, ft_model, api_visibility="private", show_progress="hidden")
    # The model list in the teacher's language (and as it is now) when the teacher opens the controls.
    teacher.expand(refresh_models, ft_model, ft_model, api_visibility="private", show_progress="hidden")
    ft_btn.click(run_finetune, [key, ft_model, ft_seconds, ft_mix], [ft_msg, ft_table],
                 api_name="board_finetune", show_progress_on=[ft_msg], concurrency_limit=1, preprocess=False,
                 api_description="Teacher: fine-tune an MNIST model on the board's drawings (seconds "
                 f"{LIMITS['finetune_seconds'].describe()}); it becomes the 'latest' model. Returns accuracy "
                 "before and after.").success(lambda: gr.Dataframe(visible=True), None, ft_table, queue=False,
                                              api_visibility="private")
