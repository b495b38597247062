// The Inside tab's live walk, drawn in the browser from one forward pass (engine/model.js): every
// layer's maps (all channels of a layer side by side in one canvas), the vectors of dense layers,
// the softmax; a tapped map opens large, and a tapped pixel of a convolution's map shows its kernel
// and the multiply-and-add (engine convDetail: the model's own numbers). Colours: the app's one
// palette (cnnlab.lessons.inside.pictures.PALETTE, sent by the server): orange negative, white 0,
// blue positive, each layer on the scale of its largest |value|.

import { convDetail } from "./engine/model.js";
import { esc, say } from "./live.js";

const GAP = 1;                   // pixels between two maps of a layer

/** Largest |value| of a layer (1 for all zeros). */
export function scaleOf(data) {
  let top = 0;
  for (let k = 0; k < data.length; k++) { const a = Math.abs(data[k]); if (a > top) top = a; }
  return top > 0 ? top : 1;
}

/** Palette index of a value: -scale -> 0, 0 -> middle (white), +scale -> last (as pictures.to_index). */
function indexOf(v, scale, steps) {
  const i = Math.round(steps + (steps * v) / scale);
  return i < 0 ? 0 : i > 2 * steps ? 2 * steps : i;
}

const WHITE = new Uint32Array(new Uint8ClampedArray([255, 255, 255, 255]).buffer)[0];
const packed = new WeakMap();      // palette -> its colours as one 32-bit RGBA word each

/** The palette's colours as words to write into an ImageData's pixels (Uint32Array view). */
function words(palette) {
  let out = packed.get(palette);
  if (!out) {
    const bytes = new Uint8ClampedArray(palette.length * 4);
    palette.forEach((rgb, k) => bytes.set([rgb[0], rgb[1], rgb[2], 255], 4 * k));
    out = new Uint32Array(bytes.buffer);
    packed.set(palette, out);
  }
  return out;
}

const pictures = new WeakMap();    // canvas -> { g, image, pixels } kept while its size stays

/** The canvas's 2-D context and an ImageData of its size, made once and reused. */
function pictureOf(canvas, width, height) {
  let pic = pictures.get(canvas);
  if (!pic || canvas.width !== width || canvas.height !== height) {
    if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
    const g = pic ? pic.g : canvas.getContext("2d");
    const image = g.createImageData(width, height);
    const pixels = new Uint32Array(image.data.buffer);
    pixels.fill(WHITE);
    pic = { g, image, pixels };
    pictures.set(canvas, pic);
  }
  return pic;
}

/** Paint maps [C][H][W] (`data`) side by side into `canvas`, `cols` values a row for a vector. */
export function paintMaps(canvas, data, [c, h, w], palette, scale = scaleOf(data)) {
  const width = c * (w + GAP) - GAP;
  const { g, image, pixels } = pictureOf(canvas, width, h);
  const colours = words(palette);
  const steps = (palette.length - 1) / 2;
  const top = 2 * steps;
  for (let ch = 0, from = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0, at = y * width + ch * (w + GAP); x < w; x++, at++, from++) {
        let i = Math.round(steps + (steps * data[from]) / scale);
        i = i < 0 ? 0 : i > top ? top : i;
        pixels[at] = colours[i];
      }
    }
  }
  g.putImageData(image, 0, 0);
}

/** A vector's values as a grid of coloured cells, `cols` a row (one canvas pixel each). */
function paintVector(canvas, data, cols, palette) {
  const n = data.length;
  const rows = Math.ceil(n / cols);
  const { g, image, pixels } = pictureOf(canvas, cols, rows);
  const colours = words(palette);
  const steps = (palette.length - 1) / 2;
  const scale = scaleOf(data);
  for (let k = 0; k < n; k++) pixels[k] = colours[indexOf(data[k], scale, steps)];
  g.putImageData(image, 0, 0);
}

function fmt(v) {
  const s = Math.abs(v) < 100 ? v.toFixed(3) : v.toFixed(1);
  return s.replace("-", "\u2212");
}

/** Cells a row in a dense layer's picture (a vector of n values). */
const vectorCols = (n) => Math.min(n, 64);

/**
 * A live walk in `root`. walk.update(model, run) repaints it (the structure is built once per
 * model); a tapped map opens in `detail`. Only the layers on screen are painted while the pen
 * moves (the others a moment after it stops, or when scrolled into view), the opened map's table
 * is built once per kernel size and only its numbers change, the kernel is painted once per pick.
 */
export function createWalk(root, detail, palette, t) {
  let built = null;              // the model the sections were built for
  let last = null;               // { model, run }
  let pick = null;               // { layer, channel, y, x }
  let targets = [];              // per layer: its canvas
  let onScreen = [];             // per layer: seen in the viewport now
  let stale = [];                // per layer: not painted since the last run
  let watcher = null;            // the IntersectionObserver of the sections
  let later = 0;                 // timer of the catch-up paint
  let table = null;              // { key, cells, sum, kernelKey } of the opened detail

  function build(model, run) {
    if (watcher) watcher.disconnect();
    root.innerHTML = run.layers.map((layer, k) => {
      const kind = t[`kind_${layer.kind}`] || layer.kind;
      const head = `<div class='ins-head'><b>${esc(kind)}</b><span class='ins-shape'>${layer.shape.join(" \u00d7 ")}</span></div>`;
      const n = layer.shape[0];
      const title = layer.shape.length === 3 ? "" : ` title='${esc(n === model.classes.length ? model.classes.join(", ") : `${n}`)}'`;
      const style = layer.shape.length === 3 ? "" : ` style='max-width: ${vectorCols(n) * 12}px'`;
      const body = `<canvas class='${layer.shape.length === 3 ? "wl-maps" : "wl-vec"}' data-layer='${k}' role='img' aria-label='${esc(kind)}'${title}${style}></canvas>`;
      return `${k ? "<div class='ins-arrow' aria-hidden='true'>\u25bc</div>" : ""}<section class='ins-stage wl-stage' data-kind='${layer.kind}'>${head}${body}</section>`;
    }).join("");
    built = model;
    targets = run.layers.map((_, k) => root.querySelector(`canvas[data-layer='${k}']`));
    onScreen = targets.map(() => true);                  // until the observer says otherwise
    stale = targets.map(() => true);
    if (typeof IntersectionObserver === "function") {
      watcher = new IntersectionObserver((entries) => {
        for (const e of entries) {
          const k = Number(e.target.dataset.layer);
          onScreen[k] = e.isIntersecting;
          if (e.isIntersecting && stale[k] && last) paint(k);
        }
      });
      targets.forEach((canvas) => watcher.observe(canvas));
    }
    root.querySelectorAll("canvas.wl-maps").forEach((canvas) => {
      canvas.addEventListener("click", (e) => {
        const k = Number(canvas.dataset.layer);
        const [, h, w] = last.run.layers[k].shape;
        const r = canvas.getBoundingClientRect();
        const x = Math.floor(((e.clientX - r.left) / r.width) * canvas.width);
        const channel = Math.min(Math.floor(x / (w + GAP)), last.run.layers[k].shape[0] - 1);
        pick = { layer: k, channel, y: -1, x: -1 };
        showDetail();
      });
    });
  }

  function paint(k) {
    const layer = last.run.layers[k];
    if (layer.shape.length === 3) paintMaps(targets[k], layer.data, layer.shape, palette);
    else paintVector(targets[k], layer.data, vectorCols(layer.data.length), palette);
    stale[k] = false;
  }

  function catchUp() {
    later = 0;
    if (!last) return;
    for (let k = 0; k < targets.length; k++) if (stale[k]) paint(k);
  }

  function update(model, run) {
    last = { model, run };
    if (built !== model) build(model, run);
    for (let k = 0; k < targets.length; k++) {
      stale[k] = true;
      if (onScreen[k]) paint(k);
    }
    if (later) clearTimeout(later);
    if (stale.some(Boolean)) later = setTimeout(catchUp, 150);
    if (pick) showDetail();
  }

  /** The detail's frame, and its table of kh x kw cells (built again only for another size). */
  function frameFor(kh, kw) {
    if (!detail.querySelector(".wl-big")) {
      detail.innerHTML = "<div class='ins ins-detail wl-detail'><h3></h3><div class='ins-figs'>"
        + "<figure class='ins-fig'><canvas class='wl-big' tabindex='0'></canvas><figcaption></figcaption></figure>"
        + "<figure class='ins-fig wl-kfig'><canvas class='wl-kernel'></canvas><figcaption></figcaption></figure></div>"
        + "<div class='ins-table-wrap'></div><p class='ins-sum'></p></div>";
      detail.querySelector(".wl-big").addEventListener("click", (e) => {
        const big = e.currentTarget;
        const r = big.getBoundingClientRect();
        pick.x = Math.floor(((e.clientX - r.left) / r.width) * big.width);
        pick.y = Math.floor(((e.clientY - r.top) / r.height) * big.height);
        showDetail();
      });
      detail.querySelector(".wl-big + figcaption").textContent = t.web_pick;
      table = null;
    }
    const key = `${kh}x${kw}`;
    if (!table || table.key !== key) {
      const wrap = detail.querySelector(".ins-table-wrap");
      let rows = "";
      for (let i = 0; i < kh; i++) rows += "<tr>" + "<td><span class='v'></span><span class='w'></span></td>".repeat(kw) + "</tr>";
      wrap.innerHTML = kh ? `<table class='ins-table'>${rows}</table>` : "";
      table = { key, cells: Array.from(wrap.querySelectorAll("td"), (td) => [td.firstChild, td.lastChild]), kernelKey: null };
    }
    return table;
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function showDetail() {
    if (!pick || !last) return;
    const { model, run } = last;
    const layer = run.layers[pick.layer];
    if (!layer || layer.shape.length !== 3) { pick = null; return; }
    const [, h, w] = layer.shape;
    const plane = layer.data.subarray(pick.channel * h * w, (pick.channel + 1) * h * w);
    let { y, x } = pick;
    if (y < 0) {
      let best = 0;
      for (let k = 1; k < plane.length; k++) if (plane[k] > plane[best]) best = k;
      y = Math.floor(best / w); x = best % w;
    }
    const name = model.layers[pick.layer - 1] ? model.layers[pick.layer - 1].name : null;
    const isConv = layer.kind === "conv" && name;
    const weight = isConv ? model.layers[pick.layer - 1].weight : null;
    const [, cin, kh, kw] = weight ? weight.shape : [0, 0, 0, 0];
    const cells = frameFor(kh, kw);
    const kind = t[`kind_${layer.kind}`] || layer.kind;
    setText(detail.querySelector("h3"), say(t.web_detail, { layer: kind, c: pick.channel + 1, r: y, q: x, v: fmt(plane[y * w + x]) }));
    paintMaps(detail.querySelector(".wl-big"), plane, [1, h, w], palette, scaleOf(layer.data));
    const kfig = detail.querySelector(".wl-kfig");
    if (!isConv) {
      kfig.style.display = "none";
      setText(detail.querySelector(".ins-sum"), "");
      return;
    }
    kfig.style.display = "";
    const m = convDetail(model, run, name, pick.channel, y, x);
    let c = 0;                                             // the input channel that matters most here
    for (let i = 1; i < cin; i++) if (Math.abs(m.perChannel[i]) > Math.abs(m.perChannel[c])) c = i;
    const kernelKey = `${pick.layer}/${pick.channel}/${c}`;
    if (cells.kernelKey !== kernelKey) {                   // the weights change only with the pick
      const kernel = m.weights.subarray(c * kh * kw, (c + 1) * kh * kw);
      paintMaps(detail.querySelector(".wl-kernel"), kernel, [1, kh, kw], palette, scaleOf(m.weights));
      setText(detail.querySelector(".wl-kfig figcaption"), say(t.web_kernel, { k: c + 1, cin }));
      cells.kernelKey = kernelKey;
    }
    for (let k = 0, at = c * kh * kw; k < kh * kw; k++, at++) {
      setText(cells.cells[k][0], fmt(m.inputs[at]));
      setText(cells.cells[k][1], `\u00d7${fmt(m.weights[at])}`);
    }
    let products = 0;
    for (let i = 0; i < cin; i++) products += m.perChannel[i];
    setText(detail.querySelector(".ins-sum"), say(t.web_sum, { n: cin * kh * kw, s: fmt(products), b: fmt(m.bias), t: fmt(m.total) })
      + (m.after === null ? "" : ` \u2192 ${m.afterKind}: ${fmt(m.after)}`));
  }

  return {
    update,
    clear() {
      if (watcher) watcher.disconnect();
      if (later) clearTimeout(later);
      root.innerHTML = ""; built = null; last = null; targets = []; later = 0;
    },
  };
}
