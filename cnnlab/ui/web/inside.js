// The Inside tab's live walk in the student's browser: on every animation frame while the pen
// moves, the drawing -> the 28x28 input -> every layer (walk.js draws them). No request per
// stroke. The server keeps what needs it (inside/tab.py): its fuller walk with the layers'
// explanations and parameter counts comes with /inside_show when asked for (the models the browser
// does not run, the API), and the filters, live-run and photo panels stay server views.

import { forward, makeWork, toInput } from "./engine/model.js";
import { language, modelFor, prepareDrawing, settings, timed } from "./live.js";
import { createWalk } from "./walk.js";

export function attach(element, options, canvas, helpers) {
  const lang = language(options.texts);
  const t = options.texts[lang];
  const pen = canvas.getContext("2d", { willReadFrequently: true });
  const box = document.getElementById(options.ids.walk);
  const root = box && box.querySelector(".wl-root");
  const detail = box && box.querySelector(".wl-detail-box");
  const walk = createWalk(root, detail, options.palette, t);
  let model = null;
  let work = null;             // the forward pass's arrays for this model, reused every frame
  let chosen = null;
  let empty = false;           // the empty note is up
  let asked = 0;

  function show(browser) {
    element.dataset.answers = browser ? "browser" : "server";
    for (const id of options.ids.server) {
      const el = document.getElementById(id);
      if (el) el.style.display = browser ? "none" : "";
    }
    if (box) box.style.display = browser ? "" : "none";
  }
  show(false);

  async function choose(s) {
    chosen = s;
    const ticket = ++asked;
    const found = s.model ? await modelFor(s.model, lang) : { server: true };
    if (ticket !== asked) return;
    // Drawings are prepared here for digit models (MNIST's way, as the server does); clothing
    // models read a drawing the photo way, which stays on the server.
    model = found.model && found.model.header.preprocess === "digits" ? found.model : null;
    work = model ? makeWork(model) : null;
    show(Boolean(model));
    if (model) frame(performance.now());
  }
  settings("inside", (s) => {
    if (!chosen || s.model !== chosen.model) choose(s);
    else chosen = s;
  });

  function frame(since) {
    if (!model || !root) return;
    const start = performance.now();
    const prepared = prepareDrawing(element, canvas, pen, helpers);
    if (!prepared) {
      if (!empty) {
        walk.clear();
        root.innerHTML = `<div class='ins ins-note'>${t.empty}</div>`;
        empty = true;
      }
    } else {
      if (empty) { root.innerHTML = ""; empty = false; }
      walk.update(model, forward(model, toInput(model, prepared.seen, work.input), work));
    }
    const end = performance.now();
    timed("inside", end - since);
    timed("inside_compute", end - start);
  }

  return { frame, server: () => !model };
}
