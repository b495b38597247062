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

/** Paint maps [C][H][W] (`data`) side by side into `canvas`. */
export function paintMaps(canvas, data, [c, h, w], palette, scale = scaleOf(data)) {
  const width = c * (w + GAP) - GAP;
  if (canvas.width !== width || canvas.height !== h) { canvas.width = width; canvas.height = h; }
  const g = canvas.getContext("2d");
  const image = g.createImageData(width, h);
  const px = image.data;
  const steps = (palette.length - 1) / 2;
  px.fill(255);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const rgb = palette[indexOf(data[(ch * h + y) * w + x], scale, steps)];
        const at = 4 * (y * width + ch * (w + GAP) + x);
        px[at] = rgb[0]; px[at + 1] = rgb[1]; px[at + 2] = rgb[2];
      }
    }
  }
  g.putImageData(image, 0, 0);
}

function fmt(v) {
  const s = Math.abs(v) < 100 ? v.toFixed(3) : v.toFixed(1);
  return s.replace("-", "\u2212");
}

/**
 * A live walk in `root`. walk.update(model, run) repaints it (the structure is built once per
 * model); a tapped map opens in `detail`.
 */
export function createWalk(root, detail, palette, t) {
  let built = null;              // the model the sections were built for
  let last = null;               // { model, run }
  let pick = null;               // { layer, channel, y, x }

  function build(model, run) {
    root.innerHTML = run.layers.map((layer, k) => {
      const kind = t[`kind_${layer.kind}`] || layer.kind;
      const head = `<div class='ins-head'><b>${esc(kind)}</b><span class='ins-shape'>${layer.shape.join(" \u00d7 ")}</span></div>`;
      const body = layer.shape.length === 3
        ? `<canvas class='wl-maps' data-layer='${k}' role='img' aria-label='${esc(kind)}'></canvas>`
        : `<div class='wl-vec' data-layer='${k}'></div>`;
      return `${k ? "<div class='ins-arrow' aria-hidden='true'>\u25bc</div>" : ""}<section class='ins-stage wl-stage' data-kind='${layer.kind}'>${head}${body}</section>`;
    }).join("");
    built = model;
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

  function vector(el, data, classes) {
    const scale = scaleOf(data);
    const steps = (palette.length - 1) / 2;
    if (el.children.length !== data.length) {
      el.innerHTML = Array.from(data, (_, i) => `<span class='wl-cell' title='${classes ? esc(classes[i]) : i}'></span>`).join("");
    }
    for (let i = 0; i < data.length; i++) {
      const rgb = palette[indexOf(data[i], scale, steps)];
      el.children[i].style.background = `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
    }
  }

  function update(model, run) {
    last = { model, run };
    if (built !== model) build(model, run);
    run.layers.forEach((layer, k) => {
      if (layer.shape.length === 3) {
        paintMaps(root.querySelector(`canvas.wl-maps[data-layer='${k}']`), layer.data, layer.shape, palette);
      } else {
        vector(root.querySelector(`.wl-vec[data-layer='${k}']`), layer.data,
          layer.data.length === model.classes.length ? model.classes : null);
      }
    });
    if (pick) showDetail();
  }

  function showDetail() {
    if (!pick || !last) return;
    const { model, run } = last;
    const layer = run.layers[pick.layer];
    if (!layer || layer.shape.length !== 3) { pick = null; return; }
    const [, h, w] = layer.shape;
    const plane = layer.data.subarray(pick.channel * h * w, (pick.channel + 1) * h * w);
    let { y, x } = pick;
    if (y < 0) { const best = plane.indexOf(Math.max(...plane)); y = Math.floor(best / w); x = best % w; }
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
    }
    const kind = t[`kind_${layer.kind}`] || layer.kind;
    detail.querySelector("h3").textContent = say(t.web_detail, { layer: kind, c: pick.channel + 1, r: y, q: x, v: fmt(plane[y * w + x]) });
    const big = detail.querySelector(".wl-big");
    paintMaps(big, plane, [1, h, w], palette, scaleOf(layer.data));
    detail.querySelector(".wl-big + figcaption").textContent = t.web_pick;
    const name = model.layers[pick.layer - 1] ? model.layers[pick.layer - 1].name : null;
    const kfig = detail.querySelector(".wl-kfig");
    if (layer.kind !== "conv" || !name) {
      kfig.style.display = "none";
      detail.querySelector(".ins-table-wrap").innerHTML = "";
      detail.querySelector(".ins-sum").textContent = "";
      return;
    }
    kfig.style.display = "";
    const m = convDetail(model, run, name, pick.channel, y, x);
    const weight = model.layers[pick.layer - 1].weight;
    const [, cin, kh, kw] = weight.shape;
    let c = 0;                                             // the input channel that matters most here
    for (let i = 1; i < cin; i++) if (Math.abs(m.perChannel[i]) > Math.abs(m.perChannel[c])) c = i;
    const slice = (a) => a.slice(c * kh * kw, (c + 1) * kh * kw);
    paintMaps(detail.querySelector(".wl-kernel"), slice(m.weights), [1, kh, kw], palette, scaleOf(m.weights));
    detail.querySelector(".wl-kfig figcaption").textContent = say(t.web_kernel, { k: c + 1, cin });
    const ins = slice(m.inputs), ws = slice(m.weights);
    let rows = "";
    for (let i = 0; i < kh; i++) {
      rows += "<tr>" + Array.from({ length: kw }, (_, j) => `<td>${fmt(ins[i * kw + j])}<span class='w'>\u00d7${fmt(ws[i * kw + j])}</span></td>`).join("") + "</tr>";
    }
    detail.querySelector(".ins-table-wrap").innerHTML = `<table class='ins-table'>${rows}</table>`;
    const products = Array.from(m.perChannel).reduce((a, v) => a + v, 0);
    detail.querySelector(".ins-sum").textContent = say(t.web_sum, { n: cin * kh * kw, s: fmt(products), b: fmt(m.bias), t: fmt(m.total) })
      + (m.after === null ? "" : ` \u2192 ${m.afterKind}: ${fmt(m.after)}`);
  }

  return { update, clear() { root.innerHTML = ""; built = null; last = null; } };
}
