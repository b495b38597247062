// What the Draw and Inside tabs share when they answer in the student's browser: the reader's
// language, the models (fetched once per checkpoint, kept by the browser's HTTP cache), and
// numbers written the way the server writes them.

import { loadModel } from "./engine/model.js";
import { unpack } from "./engine/weights.js";
import { roundHalfEven, sketchToMnist } from "./engine/preprocess.js";

const COOKIE = "cnnlab-lang";

/** The reader's language among `texts` ({code: {name: text}}): the switch's cookie, else the
 * browser's language, else English (as cnnlab/ui/lang.py picks it). */
export function language(texts) {
  const saved = (document.cookie.match(new RegExp(`(?:^|; )${COOKIE}=([^;]+)`)) || [])[1];
  if (saved && texts[saved]) return saved;
  const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
  return texts[nav] ? nav : "en";
}

/** One template of the reader's language with its fields filled in: "{share:.0%}" as Python's
 * format writes it (whole percent, halves to even), "{name}" as it is. */
export function say(template, fields = {}) {
  return template.replace(/\{(\w+)(?::\.0%)?\}/g, (all, name) => {
    if (!(name in fields)) return all;
    return all.endsWith(":.0%}") ? `${roundHalfEven(fields[name] * 100)}%` : String(fields[name]);
  });
}

/** Text for HTML. */
export function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** The page's address with `path` under it (also behind a reverse proxy's root path). */
export function address(path) {
  const root = (window.gradio_config && window.gradio_config.root) || (location.origin + location.pathname);
  return new URL(path, root.replace(/\/?$/, "/")).href;
}

const models = new Map();        // zoo key -> { etag, model } of the last file fetched

/**
 * The zoo model `key` for this browser: { model } or { server: true, why } when the browser does
 * not run it (the server's 422, or any failure: the server answers then). Asks the server every
 * time (the browser revalidates its cached copy: a 304 of a few hundred bytes), so "latest" is
 * the class's newest run; the model is built again only when the file changed.
 */
export async function modelFor(key, lang = "en") {
  try {
    const response = await fetch(address(`cnnlab/weights/${encodeURIComponent(key)}?lang=${lang}`));
    if (!response.ok) return { server: true, why: await response.text() };
    const etag = response.headers.get("ETag") || "";
    const known = models.get(key);
    if (known && etag && known.etag === etag) return { model: known.model };
    const { header, blob } = unpack(await response.arrayBuffer());
    const model = loadModel(header, blob);
    models.set(key, { etag, model });
    return { model };
  } catch (err) {
    return { server: true, why: String(err) };
  }
}

/** The shared settings a tab's controls send to the page (Gradio's js-only events write them):
 * window.cnnlab[tab] = {model, ...}; `listen` is called with them now and on every change. */
export function settings(tab, listen) {
  const root = (window.cnnlab = window.cnnlab || {});
  const box = (root.settings = root.settings || {});
  const listeners = (root.listeners = root.listeners || {});
  (listeners[tab] = listeners[tab] || []).push(listen);
  if (box[tab]) listen(box[tab]);
}

/** Timings of the last answers (ms from the pointer event to the views updated), for bench/. */
export function timed(name, ms) {
  const root = (window.cnnlab = window.cnnlab || {});
  const all = (root.timings = root.timings || {});
  const list = (all[name] = all[name] || []);
  list.push(ms);
  if (list.length > 2000) list.splice(0, list.length - 2000);
}

/** The drawing on `canvas` prepared for the network (engine/preprocess.js), or null when there is
 * no ink: only the part of the canvas where ink can be is read (helpers.inkArea from canvas.js;
 * the rest is paper and changes nothing), the whole canvas when that is not known. */
export function prepareDrawing(element, canvas, pen, helpers) {
  if (element.dataset.empty === "1") return null;
  const area = helpers && helpers.inkArea ? helpers.inkArea() : [0, 0, canvas.width, canvas.height];
  if (!area) return null;
  const [x, y, w, h] = area;
  return sketchToMnist(pen.getImageData(x, y, w, h).data, w, h);
}
