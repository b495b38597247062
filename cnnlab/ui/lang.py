"""The page in the reader's language: static words are translated by the browser (Gradio's
``gr.I18n``), words made by a handler are rendered on the server in the language of the request.

Both sides agree on the language the same way: the ``cnnlab-lang`` cookie the header's switch
sets (or an address with ``?lang=zh``), else the browser's own language (Gradio reads
``navigator.language``; the server reads the ``Accept-Language`` header the same browser sends).
The choice is per browser, never per class.
"""
from __future__ import annotations

import json

import gradio as gr

from .. import i18n
from ..i18n import catalog, normalise
from ..server import gradio_compat

COOKIE = "cnnlab-lang"


def T(key: str) -> gradio_compat.I18nData:
    """A fixed word on the page (a label, a button, a tab title), translated in the browser."""
    i18n.template(i18n.DEFAULT, key)       # a typo fails when the page is built, not in class
    return gr.I18n()(key)


def gradio_i18n() -> gr.I18n:
    """Every language's strings for ``launch(i18n=...)``, under the language code ("zh" also
    serves "zh-CN" and "zh-TW" browsers)."""
    return gr.I18n(**catalog())


def lang_of(request: gr.Request | None) -> str:
    """The language to answer this request in: the switch's cookie, else Accept-Language."""
    if request is None:
        return i18n.DEFAULT
    try:
        chosen = request.cookies.get(COOKIE)
    except AttributeError:
        chosen = None
    if chosen:
        return normalise(chosen)
    header = (request.headers.get("accept-language") or "") if request.headers else ""
    for part in header.split(","):              # browsers list them best first
        base = part.split(";")[0].strip().lower().split("-")[0]
        if base in catalog():
            return base
    return i18n.DEFAULT


def choices() -> list[tuple[str, str]]:
    """The switch's choices, each language named in itself."""
    return [(strings["language.name"], code) for code, strings in catalog().items()]


def _browser_locales() -> dict[str, str]:
    return {code: strings["language.locale"] for code, strings in catalog().items()}


# Runs in the browser when the page loads: applies a language chosen earlier (Gradio itself only
# knows navigator.language; its locale store is a Gradio internal, see gradio_compat) and returns
# it for the switch.
APPLY_JS = """async () => {
  const locales = LOCALES;
  const asked = (new URLSearchParams(location.search).get('lang') || '').toLowerCase().split('-')[0];
  if (Object.hasOwn(locales, asked)) document.cookie = 'COOKIE=' + asked + '; path=/; max-age=31536000; SameSite=Lax';
  const saved = (document.cookie.match(/(?:^|; )COOKIE=([^;]+)/) || [])[1];
  const nav = (navigator.language || 'en').toLowerCase().split('-')[0];
  const lang = saved in locales ? saved : (nav in locales ? nav : 'en');
  if (saved in locales) {
    """ + gradio_compat.change_locale_js("locales[saved]") + """
  }
  document.documentElement.lang = locales[lang];
  return lang;
}"""

# The same, as early as the page allows (Gradio inserts launch(head=...) before it draws the
# components, so labels are drawn in the chosen language from the start).
HEAD_JS = "<script>(" + APPLY_JS + ")();</script>"

# The switch: remember the choice for a year in this browser, then reload so every answer on the
# page is made again in the new language.
CHOOSE_JS = """(lang) => {
  document.cookie = 'COOKIE=' + lang + '; path=/; max-age=31536000; SameSite=Lax';
  window.location.reload();
  return lang;
}"""


def head() -> str:
    """For ``launch(head=...)``."""
    return HEAD_JS.replace("LOCALES", json.dumps(_browser_locales())).replace("COOKIE", COOKIE)


def build_switch(demo: gr.Blocks) -> gr.Radio:
    """The header's language switch (placed in the row the caller opened); it shows the language
    the page is in as soon as the page has loaded."""
    switch = gr.Radio(choices(), value=i18n.DEFAULT, show_label=False, container=False, scale=0,
                      min_width=150, elem_id="language-switch")
    switch.input(None, switch, None, js=CHOOSE_JS.replace("COOKIE", COOKIE))
    demo.load(None, None, switch, js=APPLY_JS.replace("LOCALES", json.dumps(_browser_locales()))
              .replace("COOKIE", COOKIE))
    return switch


# For custom HTML components whose words live in their template (the drawing canvas): a JS
# expression that picks the reader's language from a ``texts`` prop of {code: {name: text}}, the
# same way as above (the switch's cookie, else the browser's language).
PICK_TEXTS = ("((t) => t[(document.cookie.match(/(?:^|; )" + COOKIE + "=([^;]+)/) || [])[1]"
              " || (navigator.language || 'en').slice(0, 2).toLowerCase()] || t." + i18n.DEFAULT + ")(texts)")


def texts(section: str) -> dict[str, dict[str, str]]:
    """{code: {name: text}} of one section, for a component's ``texts`` prop (see PICK_TEXTS)."""
    prefix = section + "."
    return {code: {k[len(prefix):]: v for k, v in strings.items() if k.startswith(prefix)}
            for code, strings in catalog().items()}


def rendered(value, lang: str = i18n.DEFAULT):
    """What a reader in ``lang`` sees for a component's text (a T(...) key or plain text)."""
    if gradio_compat.is_i18n(value):
        return i18n.template(lang, value.key)
    return value
