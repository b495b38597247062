// The Draw tab, answered in the student's browser: on every animation frame while the pen moves,
// the drawing -> the 28x28 digit (engine/preprocess.js, the server's maths) -> the network
// (engine/model.js) -> the big answer, the ten bars and "what the network sees". No request to the
// server per stroke. The canvas (canvas.js) imports this module and calls attach().
//
// The server still answers when this browser cannot: until the model's weights have arrived, for
// a model the browser does not run (the weights route says 422), and when saliency is on (the
// canvas then sends the drawing when a stroke ends, as before). "Not sure" follows the server's
// rule (cnnlab.core.calibration.is_sure, sent in options.sure); the novelty check ("that does not
// look like a digit") needs the server's fitted detector and stays there.

import { forward, makeWork, toInput } from "./engine/model.js";
import { esc, language, modelFor, prepareDrawing, say, settings, timed } from "./live.js";

/** cnnlab.core.calibration.is_sure: top probability, lead over the runner-up, spread (normalised
 * entropy) against the rule of the kind ("digits"). */
export function isSure(probs, rule) {
  const p = Array.from(probs).sort((a, b) => b - a);
  if (p.length < 2) return true;
  let spread = 0;
  for (const v of p) spread -= v * Math.log(Math.max(v, 1e-12));
  spread /= Math.log(p.length);
  return p[0] >= rule.prob && p[0] - p[1] >= rule.margin && spread <= rule.spread;
}

/** Where the answer goes: the Draw tab's views (ids from draw.py). */
function views(ids) {
  const byId = (id) => document.getElementById(id);
  const bars = byId(ids.bars);
  return { answer: byId(ids.answer), seen: byId(ids.seen), bars: bars && bars.querySelector(".cl-bars-box"),
    barsBlock: bars, probs: byId(ids.probs) };
}

export function attach(element, options, canvas, helpers) {
  const lang = language(options.texts);
  const t = options.texts[lang];
  const pen = canvas.getContext("2d", { willReadFrequently: true });
  let model = null;            // the engine's model for the chosen key, or null (the server answers)
  let work = null;             // the forward pass's arrays for this model, reused every frame
  let shown = null;            // what the views show now ({ blank } or { answer, answerAt, bars, list }): only changes are written
  let chosen = null;           // { model: key, saliency }
  let asked = 0;               // which choice the last weights request was for
  let mode = "server";

  function show(browser) {     // the browser's bars, or Gradio's Label (the server's answers)
    mode = browser ? "browser" : "server";
    const v = views(options.ids);
    if (v.barsBlock) v.barsBlock.style.display = browser ? "" : "none";
    if (v.probs) v.probs.style.display = browser ? "none" : "";
    element.dataset.answers = mode;
  }
  show(false);

  async function choose(s) {
    chosen = s;
    const ticket = ++asked;
    const found = s.model ? await modelFor(s.model, lang) : { server: true };
    if (ticket !== asked) return;                        // another model was chosen meanwhile
    model = found.model || null;
    work = model ? makeWork(model) : null;
    shown = null;
    show(Boolean(model));
    if (model) frame(performance.now());
  }
  settings("draw", (s) => {
    if (!chosen || s.model !== chosen.model) choose(s);
    else chosen = s;
  });

  function answerHtml(probs) {
    let k = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[k]) k = i;
    const sure = isSure(probs, options.sure);
    return esc(model.classes[k]) + `<div class='hint'>${esc(say(t.sure, { share: probs[k] }))}</div>`
      + (sure ? "" : `<div class='hint'>${esc(t.not_sure)}</div>`);
  }

  function drawSeen(v, seen) {
    const figure = v.seen && v.seen.querySelector(".draw-figure");
    if (!figure) return;
    let pic = figure.querySelector("canvas.pixels");
    if (!pic) {
      figure.innerHTML = `<canvas class='pixels' width='28' height='28' role='img' aria-label='${esc(t.seen_alt)}'></canvas>`
        + `<div class='draw-caption'>${esc(t.seen_caption)}</div>`;
      pic = figure.querySelector("canvas.pixels");
    }
    if (!pic.cnnlabImage) pic.cnnlabImage = { g: pic.getContext("2d"), image: new ImageData(28, 28) };
    const { g, image } = pic.cnnlabImage;
    const px = image.data;
    for (let k = 0; k < 784; k++) {
      px[4 * k] = px[4 * k + 1] = px[4 * k + 2] = seen[k];
      px[4 * k + 3] = 255;
    }
    g.putImageData(image, 0, 0);
  }

  function drawBars(v, probs) {
    if (!v.bars) return;
    let list = v.bars.querySelector(".cl-bars");
    if (!list || list.children.length !== probs.length) {
      v.bars.innerHTML = `<div class='cl-bars-title'>${esc(t.probs)}</div><div class='cl-bars' role='list'>`
        + model.classes.map((name) => `<div class='cl-bar-row' role='listitem'><span class='cl-bar-name'>${esc(name)}</span>`
          + "<span class='cl-bar'><span></span></span><span class='cl-bar-p'></span></div>").join("") + "</div>"
        + `<div class='cl-bars-title'>${esc(t.on_device)}</div>`;
      list = v.bars.querySelector(".cl-bars");
    }
    let top = 0;
    for (let i = 1; i < probs.length; i++) if (probs[i] > probs[top]) top = i;
    const before = (shown && shown.bars && shown.bars.length === probs.length && shown.list === list) ? shown.bars : null;
    const bars = [];
    for (let i = 0; i < probs.length; i++) {           // only what changed goes to the page
      const row = list.children[i];
      const width = `${(100 * probs[i]).toFixed(1)}%`;
      const text = say("{p:.0%}", { p: probs[i] });
      const was = before && before[i];
      if (!was || was[2] !== (i === top)) row.classList.toggle("top", i === top);
      if (!was || was[0] !== width) row.children[1].firstChild.style.width = width;
      if (!was || was[1] !== text) row.children[2].textContent = text;
      bars.push([width, text, i === top]);
    }
    shown.bars = bars;
    shown.list = list;
  }

  function blank(v) {
    if (shown && shown.blank) return;
    shown = { blank: true };
    const answer = v.answer && v.answer.querySelector(".big-answer");
    if (answer) answer.innerHTML = `<span class='hint'>${esc(t.hint)}</span>`;
    const figure = v.seen && v.seen.querySelector(".draw-figure");
    if (figure) {
      figure.innerHTML = `<div class='draw-empty'><span>${esc(t.seen_empty)}</span></div>`
        + `<div class='draw-caption'>${esc(t.seen_caption)}</div>`;
    }
    if (v.bars) v.bars.innerHTML = "";
  }

  function frame(since) {
    if (!model) return;
    const start = performance.now();
    const v = views(options.ids);
    const prepared = prepareDrawing(element, canvas, pen, helpers);
    const read = performance.now();
    if (!prepared) {
      blank(v);
    } else {
      const run = forward(model, toInput(model, prepared.seen, work.input), work);
      timed("draw_prepare", read - start);     // of which: the canvas read and prepared (28x28) ...
      timed("draw_network", performance.now() - read);    // ... and the network's forward pass
      if (!shown || shown.blank) shown = { answer: null, bars: null, list: null };
      const html = answerHtml(run.probs);
      const answer = v.answer && v.answer.querySelector(".big-answer");
      if (answer && (html !== shown.answer || answer !== shown.answerAt)) {   // (Gradio may have redrawn it)
        answer.innerHTML = html;
        shown.answer = html;
        shown.answerAt = answer;
      }
      drawBars(v, run.probs);
      drawSeen(v, prepared.seen);
      let top = 0;
      for (let i = 1; i < run.probs.length; i++) if (run.probs[i] > run.probs[top]) top = i;
      if (element.dataset.top !== model.classes[top]) element.dataset.top = model.classes[top];
    }
    const end = performance.now();
    timed("draw", end - since);              // pointer event -> views updated
    timed("draw_compute", end - start);      // of which: read, prepare, forward, update
  }

  return {
    frame,
    server: () => !model || Boolean(chosen && chosen.saliency),
  };
}
