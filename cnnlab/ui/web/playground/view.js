// The Playground's pictures on <canvas>: the data and the network's prediction (the decision
// boundary, or the fitted curve), each hidden neuron's small map, the loss curves and the race.
// Pure drawing: every function takes a canvas (or its context) and the numbers to draw, from
// Playground.pictures() (net.js) and Race (race.js). Nothing here trains or talks to the server.
//
// One colour language for the whole app (cnnlab.core.plots, Okabe-Ito, colour-blind safe):
// blue = positive / class 1, orange = negative / class 0, white about 0.

export const CLASS_RGB = [[230, 159, 0], [0, 114, 178], [0, 158, 115], [204, 121, 167]];
export const CLASS_HEX = ['#E69F00', '#0072B2', '#009E73', '#CC79A7'];
export const RACE_COLOURS = { sgd: '#999999', momentum: '#E69F00', rmsprop: '#009E73', adam: '#0072B2' };
export const CURVE_COLOURS = { train: '#0072B2', test: '#E69F00', acc: '#009E73', accTest: '#CC79A7' };
const FIT = '#D55E00';

/** t in [-1, 1] -> [r, g, b]: orange (negative), white (0), blue (positive); `light` < 1 fades it
 *  towards white (a background the points stand out on). */
export function diverging(t, light = 1) {
  const a = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const c = a < 0 ? CLASS_RGB[0] : CLASS_RGB[1];
  const k = Math.abs(a) * light;
  return [255 + (c[0] - 255) * k, 255 + (c[1] - 255) * k, 255 + (c[2] - 255) * k];
}

function css(rgb) { return `rgb(${rgb[0] | 0},${rgb[1] | 0},${rgb[2] | 0})`; }

// One small canvas reused for every heatmap (its pixels are the grid; drawn scaled and smoothed).
let scratch = null;
function heatCanvas(size) {
  if (!scratch || scratch.width !== size) {
    scratch = document.createElement('canvas');
    scratch.width = size;
    scratch.height = size;
    scratch.pixels = scratch.getContext('2d').createImageData(size, size);
  }
  return scratch;
}

/** Paint size x size colours (fn(i) -> [r, g, b] for grid cell i, row 0 at the top) over the
 *  whole of ctx's canvas (w x h). */
function paintGrid(ctx, size, w, h, fn) {
  const c = heatCanvas(size);
  const px = c.pixels.data;
  for (let i = 0; i < size * size; i++) {
    const rgb = fn(i);
    px[4 * i] = rgb[0]; px[4 * i + 1] = rgb[1]; px[4 * i + 2] = rgb[2]; px[4 * i + 3] = 255;
  }
  c.getContext('2d').putImageData(c.pixels, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(c, 0, 0, w, h);
}

/** Data coordinates <-> canvas pixels for a view [x0, x1, y0, y1]. */
export function toPixels(view, w, h) {
  const [x0, x1, y0, y1] = view;
  return { x: (u) => (u - x0) / ((x1 - x0) || 1) * w, y: (v) => (y1 - v) / ((y1 - y0) || 1) * h };
}
export function fromPixels(view, w, h, px, py) {
  const [x0, x1, y0, y1] = view;
  return [x0 + px / w * (x1 - x0), y1 - py / h * (y1 - y0)];
}

function grid(ctx, w, h) {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = '#e5e5e5';
  ctx.lineWidth = 1;
  for (let i = 1; i < 4; i++) {
    ctx.beginPath(); ctx.moveTo(i * w / 4, 0); ctx.lineTo(i * w / 4, h); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(0, i * h / 4); ctx.lineTo(w, i * h / 4); ctx.stroke();
  }
}

function line(ctx, xs, ys, at, colour, width) {
  ctx.beginPath();
  ctx.strokeStyle = colour;
  ctx.lineWidth = width;
  ctx.lineJoin = 'round';
  for (let i = 0; i < xs.length; i++) {
    if (i) ctx.lineTo(at.x(xs[i]), at.y(ys[i]));
    else ctx.moveTo(at.x(xs[i]), at.y(ys[i]));
  }
  ctx.stroke();
}

/** The data and the prediction. `data`: Playground.data (or { dims, task, view, xAll, yAll,
 *  nAll, nTrain, targetRange } for own points before a network exists); `pic`: pictures() or
 *  null; `wrong`: 1 per point the network gets wrong (classification) or null. */
export function drawMain(canvas, data, pic, wrong) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  const at = toPixels(data.view, W, H);
  const [lo, hi] = data.targetRange || [0, 1];
  const mid = (lo + hi) / 2;
  const half = (hi - lo) / 2 || 1;
  if (pic && pic.kind === 'class') {
    const k = pic.classes;
    const p = pic.probs;
    paintGrid(ctx, pic.size, W, H, (i) => {
      let r = 0; let g = 0; let b = 0;
      for (let j = 0; j < k; j++) {
        const q = p[i * k + j];
        r += q * CLASS_RGB[j][0]; g += q * CLASS_RGB[j][1]; b += q * CLASS_RGB[j][2];
      }
      return [255 - (255 - r) * 0.55, 255 - (255 - g) * 0.55, 255 - (255 - b) * 0.55];
    });
  } else if (pic && pic.kind === 'reg2') {
    paintGrid(ctx, pic.size, W, H, (i) => diverging((pic.values[i] - mid) / half, 0.6));
  } else {
    grid(ctx, W, H);
  }
  const dims = data.dims;
  const one = dims === 1;
  for (let i = 0; i < data.nAll; i++) {
    const test = i >= data.nTrain;
    const u = data.xAll[i * dims];
    const v = one ? data.yAll[i] : data.xAll[i * dims + 1];
    ctx.beginPath();
    ctx.arc(at.x(u), at.y(v), one ? 3.2 : 4.2, 0, 2 * Math.PI);
    if (one) ctx.fillStyle = test ? '#fff' : '#666';
    else if (data.task === 'classification') ctx.fillStyle = CLASS_HEX[data.yAll[i]] || '#000';
    else ctx.fillStyle = css(diverging((data.yAll[i] - mid) / half));
    ctx.fill();
    const bad = wrong && wrong[i];
    ctx.lineWidth = bad ? 2.5 : (test ? 1.6 : 1);
    ctx.strokeStyle = test || bad ? '#111' : (one ? '#666' : '#fff');
    ctx.stroke();
  }
  if (pic && pic.kind === 'reg1') line(ctx, pic.xs, pic.ys, at, FIT, 4);
}

/** The race: the course's points and each optimizer's fitted curve. */
export function drawRace(canvas, race, curves) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of race.y) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const view = [-1, 1, lo - 0.05, hi + 0.05];
  const at = toPixels(view, W, H);
  grid(ctx, W, H);
  ctx.fillStyle = '#999';
  for (let i = 0; i < race.x.length; i += 4) {          // 250 of the 1000 points are plenty to show
    ctx.fillRect(at.x(race.x[i]) - 1.5, at.y(race.y[i]) - 1.5, 3, 3);
  }
  for (const [name, ys] of Object.entries(curves.ys)) line(ctx, curves.xs, ys, at, RACE_COLOURS[name], 3);
}

function nice(m) {
  if (!(m > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(m));
  const f = m / e;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
}

function axes(ctx, W, H, top, right) {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  ctx.strokeStyle = '#ddd';
  ctx.lineWidth = 1;
  ctx.fillStyle = '#555';
  ctx.font = '12px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const y = 8 + (H - 28) * i / 4;
    ctx.beginPath(); ctx.moveTo(34, y); ctx.lineTo(W - 34, y); ctx.stroke();
    ctx.fillText(Number(top * (1 - i / 4)).toPrecision(2), 2, y + 4);
    if (right) ctx.fillText(`${100 - 25 * i}%`, W - 32, y + 4);
  }
}

function series(ctx, xs, ys, xmax, top, W, H, colour, dash) {
  ctx.beginPath();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  ctx.setLineDash(dash || []);
  let started = false;
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i];
    if (y === null || y === undefined || !Number.isFinite(y)) continue;
    const px = 34 + (W - 68) * (xmax ? xs[i] / xmax : 0);
    const py = 8 + (H - 28) * (1 - Math.min(y, top) / top);
    if (started) ctx.lineTo(px, py);
    else { ctx.moveTo(px, py); started = true; }
  }
  ctx.stroke();
  ctx.setLineDash([]);
}

/** The loss (and accuracy) curves of a Playground's history, per epoch. */
export function drawCurves(canvas, history, classify, epochWord) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  const xs = history.epoch;
  let most = 1e-3;
  for (const v of history.train) if (Number.isFinite(v) && v > most) most = v;
  for (const v of history.test) if (v !== null && Number.isFinite(v) && v > most) most = v;
  const top = nice(most);
  axes(ctx, W, H, top, classify);
  const xmax = Math.max(xs[xs.length - 1] || 1, 1e-9);
  series(ctx, xs, history.train, xmax, top, W, H, CURVE_COLOURS.train);
  series(ctx, xs, history.test, xmax, top, W, H, CURVE_COLOURS.test, [6, 4]);
  if (classify) {
    series(ctx, xs, history.acc, xmax, 1, W, H, CURVE_COLOURS.acc);
    series(ctx, xs, history.accTest, xmax, 1, W, H, CURVE_COLOURS.accTest, [6, 4]);
  }
  ctx.fillStyle = '#555';
  ctx.fillText(`${epochWord} ${xmax.toFixed(1)}`, W - 110, H - 4);
}

/** The race's batch losses per step (as the course plots them). */
export function drawRaceCurves(canvas, losses, total, stepWord) {
  const ctx = canvas.getContext('2d');
  const W = canvas.width;
  const H = canvas.height;
  const top = 0.2;
  axes(ctx, W, H, top, false);
  for (const [name, ys] of Object.entries(losses)) {
    const stride = Math.max(1, Math.ceil(ys.length / 200));
    const xs = [];
    const vs = [];
    for (let i = 0; i < ys.length; i += stride) { xs.push(i); vs.push(ys[i]); }
    series(ctx, xs, vs, total, top, W, H, RACE_COLOURS[name]);
  }
  ctx.fillStyle = '#555';
  ctx.fillText(`${stepWord} ${losses.sgd.length} / ${total}`, W - 150, H - 4);
}

/** Every hidden neuron: 2-D data, its map over the plane (orange negative, blue positive, scaled
 *  by its own largest |value|); 1-D data, its output along x. `canvases[l][j]` are the tiles. */
export function drawNeurons(canvases, pic) {
  for (let l = 0; l < canvases.length; l++) {
    for (let j = 0; j < canvases[l].length; j++) {
      const c = canvases[l][j];
      const v = pic.neurons[l] && pic.neurons[l][j];
      if (!v) continue;
      const scale = pic.scales[l][j] || 1;
      const ctx = c.getContext('2d');
      if (pic.kind === 'reg1') {
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, c.width, c.height);
        let lo = Infinity;
        let hi = -Infinity;
        for (const a of v) { if (a < lo) lo = a; if (a > hi) hi = a; }
        const span = (hi - lo) || 1;
        ctx.beginPath();
        ctx.strokeStyle = CLASS_HEX[1];
        ctx.lineWidth = 2;
        for (let i = 0; i < v.length; i++) {
          const x = i / (v.length - 1) * c.width;
          const y = (1 - (v[i] - lo) / span) * (c.height - 4) + 2;
          if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        }
        ctx.stroke();
      } else {
        paintGrid(ctx, pic.size, c.width, c.height, (i) => diverging(v[i] / scale));
      }
    }
  }
}

/** A frame of the GIF: the main picture with a caption under it, as a PNG data URL. */
export function gifFrame(canvas, caption, size = 320) {
  const c = document.createElement('canvas');
  c.width = size;
  c.height = size + 28;
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.drawImage(canvas, 0, 0, size, size);
  ctx.fillStyle = '#000';
  ctx.font = '16px sans-serif';
  ctx.fillText(caption, 8, size + 20);
  return c.toDataURL('image/png');
}
