// The Playground's toy data sets in the browser: cnnlab.playground's makers, op for op in float32,
// drawn from PyTorch's random numbers (random.js), so a data seed gives the same points as the
// PyTorch code the page shows: the uniform draws exactly, the normal ones to float32 rounding.
//
// Points are row-major Float32Arrays: x is n * dims (dims 1 for the curve, 2 for the plane);
// classification labels are an Int32Array(n), regression targets a Float32Array(n).

import { TorchGenerator } from './random.js';

const f32 = Math.fround;
const PI = Math.PI;

/** torch.linspace(a, b, n) in float32, as PyTorch's CPU kernel computes it. */
export function linspace(a, b, n) {
  const out = new Float32Array(n);
  const fa = f32(a);
  const fb = f32(b);
  const step = n > 1 ? f32(f32(fb - fa) / (n - 1)) : 0;
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? f32(fa + step * i) : f32(fb - step * (n - i - 1));
  return out;
}

function rand(g, n) { return g.uniform(new Float32Array(n)); }
function randn(g, n) { return g.normal(new Float32Array(n)); }

/** out[i] = x[i] + noise * z[i], as `x + noise * torch.randn(...)`. */
function addNoise(x, noise, z) {
  const s = f32(noise);
  for (let i = 0; i < x.length; i++) x[i] = f32(x[i] + f32(s * z[i]));
  return x;
}

// Every maker is (n, noise, classes, g) -> { x, y, n }: the same draws in the same order as the
// Python maker of the same name (cnnlab.playground), so the same generator state gives the same data.

/** Course lesson 1: y = x^2 plus uniform noise (0.2 in the course), x evenly spaced in [-1, 1]. */
function curve(n, noise, classes, g) {
  const x = linspace(-1, 1, n);
  const u = rand(g, n);
  const s = f32(noise);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = f32(f32(x[i] * x[i]) + f32(s * u[i]));
  return { x, y, n };
}

/** Course lesson 2: two Gaussian clouds centred at (2, 2) and (-2, -2), std = noise. */
function twoClouds(n, noise, classes, g) {
  const h = Math.floor(n / 2);
  const x0 = g.normal(new Float32Array(h * 2), 0, noise);   // torch.normal(2 * ones, noise): normal_, then + mean
  const x1 = g.normal(new Float32Array(h * 2), 0, noise);
  const x = new Float32Array(4 * h);
  for (let i = 0; i < 2 * h; i++) {
    x[i] = f32(x0[i] + 2);
    x[2 * h + i] = f32(x1[i] - 2);
  }
  const y = new Int32Array(2 * h);
  y.fill(1, h);
  return { x, y, n: 2 * h };
}

/** A disc of class 0 inside a ring of class 1. */
function circle(n, noise, classes, g) {
  const h = Math.floor(n / 2);
  const inner = rand(g, h);
  const outer = rand(g, n - h);
  const r = new Float32Array(n);
  for (let i = 0; i < h; i++) r[i] = f32(2 * inner[i]);
  for (let i = h; i < n; i++) r[i] = f32(3 + f32(2 * outer[i - h]));
  const angle = rand(g, n);
  const twoPi = f32(2 * PI);
  const x = new Float32Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = f32(twoPi * angle[i]);
    x[2 * i] = f32(r[i] * f32(Math.cos(a)));
    x[2 * i + 1] = f32(r[i] * f32(Math.sin(a)));
    y[i] = i >= h ? 1 : 0;
  }
  return { x: addNoise(x, noise, randn(g, 2 * n)), y, n };
}

/** Class 1 where x1 and x2 have the same sign. */
function xor(n, noise, classes, g) {
  const x = rand(g, 2 * n);
  const gap = f32(0.3);
  for (let i = 0; i < 2 * n; i++) {
    const v = f32(f32(10 * x[i]) - 5);
    x[i] = f32(v + gap * Math.sign(v));                // a gap along the axes
  }
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = f32(x[2 * i] * x[2 * i + 1]) > 0 ? 1 : 0;
  return { x: addNoise(x, noise, randn(g, 2 * n)), y, n };
}

/** One spiral arm per class, wound around the centre. */
function spiral(n, noise, classes, g) {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = i % classes;
  const t = rand(g, n);
  const turn = f32(3.5 * PI);
  const twoPi = f32(2 * PI);
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const a = f32(f32(turn * t[i]) + f32(f32(twoPi * y[i]) / classes));
    const rr = f32(5 * t[i]);
    x[2 * i] = f32(rr * f32(Math.cos(a)));
    x[2 * i + 1] = f32(rr * f32(Math.sin(a)));
  }
  return { x: addNoise(x, noise, randn(g, 2 * n)), y, n };
}

/** One Gaussian cloud per class, the centres on a circle, std = noise. */
function gaussian(n, noise, classes, g) {
  const y = new Int32Array(n);
  const x = new Float32Array(2 * n);
  const twoPi = f32(2 * PI);
  const quarter = f32(PI / 4);
  const r = f32(3.5);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    const a = f32(f32(f32(twoPi * y[i]) / classes) + quarter);
    x[2 * i] = f32(r * f32(Math.cos(a)));
    x[2 * i + 1] = f32(r * f32(Math.sin(a)));
  }
  return { x: addNoise(x, noise, randn(g, 2 * n)), y, n };
}

/** Regression: a tilted plane, y = (x1 + x2) / 10, plus noise. */
function plane(n, noise, classes, g) {
  const x = rand(g, 2 * n);
  for (let i = 0; i < 2 * n; i++) x[i] = f32(f32(12 * x[i]) - 6);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = f32(f32(x[2 * i] + x[2 * i + 1]) / 10);
  return { x, y: addNoise(y, noise, randn(g, n)), n };
}

const BUMP_CENTRES = [[-3, 3], [3, 3], [-3, -3], [3, -3]];
const BUMP_HEIGHTS = [1, -1, -1, 1];

/** Regression: two hills and two valleys, y = a sum of Gaussian bumps, plus noise. */
function bumps(n, noise, classes, g) {
  const x = rand(g, 2 * n);
  for (let i = 0; i < 2 * n; i++) x[i] = f32(f32(12 * x[i]) - 6);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < 4; c++) {
      const dx = f32(x[2 * i] - BUMP_CENTRES[c][0]);
      const dy = f32(x[2 * i + 1] - BUMP_CENTRES[c][1]);
      const d2 = f32(f32(dx * dx) + f32(dy * dy));
      s = f32(s + f32(BUMP_HEIGHTS[c] * f32(Math.exp(-d2 / 4))));
    }
    y[i] = s;
  }
  return { x, y: addNoise(y, noise, randn(g, n)), n };
}

/** The data sets, as cnnlab.playground.DATASETS (same names, defaults and tasks). */
export const DATASETS = {
  curve: { make: curve, task: 'regression', dims: 1, noise: 0.2, points: 100, manyClasses: false },
  'two-clouds': { make: twoClouds, task: 'classification', dims: 2, noise: 1.0, points: 200, manyClasses: false },
  circle: { make: circle, task: 'classification', dims: 2, noise: 0.2, points: 300, manyClasses: false },
  xor: { make: xor, task: 'classification', dims: 2, noise: 0.2, points: 300, manyClasses: false },
  spiral: { make: spiral, task: 'classification', dims: 2, noise: 0.1, points: 400, manyClasses: true },
  gaussian: { make: gaussian, task: 'classification', dims: 2, noise: 1.0, points: 300, manyClasses: true },
  plane: { make: plane, task: 'regression', dims: 2, noise: 0.05, points: 300, manyClasses: false },
  bumps: { make: bumps, task: 'regression', dims: 2, noise: 0.05, points: 400, manyClasses: false },
  // The student's own points (tapped onto the plot or pasted), in settings.own: [x1, x2, class]
  // rows on the plane, [x, y] rows of a curve (cnnlab.lessons.playground.data: own-class, own-curve).
  'own-class': { make: null, own: true, task: 'classification', dims: 2, noise: 0, points: 0, manyClasses: true },
  'own-curve': { make: null, own: true, task: 'regression', dims: 1, noise: 0, points: 0, manyClasses: false },
};

/** The view of a curve of own points before (and while) there are few: x in [-1, 1], y in [-0.5, 1.5]. */
export const OWN_CURVE_VIEW = [-1, 1, -0.5, 1.5];

/** Own rows -> { x, y, n } as a maker gives them (float32, as torch.tensor of the same numbers). */
function ownPoints(rows, task) {
  const n = rows.length;
  const dims = task === 'classification' ? 2 : 1;
  const x = new Float32Array(n * dims);
  const y = task === 'classification' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dims; j++) x[i * dims + j] = rows[i][j];
    y[i] = rows[i][dims];
  }
  return { x, y, n };
}

export const DOMAIN_2D = [-6, 6];    // the plane shown, as in TensorFlow Playground

// ------------------------------------------------------------------ features
/** What the first layer sees, from a point's (x1, x2): cnnlab.playground.FEATURES. */
export const FEATURES = {
  x1: (a) => a,
  x2: (a, b) => b,
  'x1^2': (a) => f32(a * a),
  'x2^2': (a, b) => f32(b * b),
  'x1*x2': (a, b) => f32(a * b),
  'sin(x1)': (a) => f32(Math.sin(a)),
  'sin(x2)': (a, b) => f32(Math.sin(b)),
};
export const FEATURES_1D = ['x1', 'x1^2', 'sin(x1)'];      // a curve has no x2

/** The first layer's input for n points (x: n * dims): Float32Array(n * features.length). */
export function featurize(x, n, dims, features, out) {
  const k = features.length;
  const fs = features.map((name) => FEATURES[name]);
  const z = out || new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    const a = x[i * dims];
    const b = dims > 1 ? x[i * dims + 1] : 0;
    for (let j = 0; j < k; j++) z[i * k + j] = fs[j](a, b);
  }
  return z;
}

/** Classes of the settings' task: 0 for regression. */
export function classesOf(s) {
  const spec = DATASETS[s.dataset];
  if (spec.task !== 'classification') return 0;
  return spec.manyClasses ? s.classes : 2;
}

/** Python's round(): halves to the even neighbour. */
export function roundHalfEven(v) {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function pick(a, width, idx) {
  const out = new a.constructor(idx.length * width);
  for (let i = 0; i < idx.length; i++) {
    for (let j = 0; j < width; j++) out[i * width + j] = a[idx[i] * width + j];
  }
  return out;
}

/** A data set from settings (dataset, points, noise, classes, train_ratio, data_seed), as
 *  cnnlab.playground.make_data: { dims, task, classes, xTrain, yTrain, nTrain, xTest, yTest, nTest,
 *  xAll, yAll, nAll (train then test, as the picture lists them), view [x0, x1, y0, y1],
 *  targetRange [lo, hi] }. */
export function makeData(s) {
  const spec = DATASETS[s.dataset];
  if (!spec) throw new Error(`unknown data set "${s.dataset}"`);
  const classes = spec.manyClasses ? s.classes : 2;
  const g = new TorchGenerator(s.data_seed);
  const { x, y, n } = spec.own ? ownPoints(s.own, spec.task) : spec.make(s.points, s.noise, classes, g);
  let tr;
  let te;
  if (s.train_ratio < 1) {                     // the course trains on every point, in order
    const order = g.randperm(n);
    const nTrain = Math.max(1, Math.min(n - 1, roundHalfEven(s.train_ratio * n)));
    tr = order.subarray(0, nTrain);
    te = order.subarray(nTrain);
  } else {
    tr = Int32Array.from({ length: n }, (_, i) => i);
    te = new Int32Array(0);
  }
  const d = spec.dims;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) { if (y[i] < lo) lo = y[i]; if (y[i] > hi) hi = y[i]; }
  let view;
  if (d === 1) {
    let x0 = Infinity;
    let x1 = -Infinity;
    for (let i = 0; i < n; i++) { if (x[i] < x0) x0 = x[i]; if (x[i] > x1) x1 = x[i]; }
    const pad = 0.1 * ((hi - lo) || 1.0);
    view = [x0, x1, lo - pad, hi + pad];
    if (spec.own) {
      const [a, b, c, e] = OWN_CURVE_VIEW;
      view = [Math.min(a, x0), Math.max(b, x1), Math.min(c, lo - pad), Math.max(e, hi + pad)];
    }
  } else {
    view = [...DOMAIN_2D, ...DOMAIN_2D];
  }
  const all = Int32Array.from([...tr, ...te]);
  return {
    dims: d, task: spec.task, classes: spec.task === 'classification' ? classes : 0,
    xTrain: pick(x, d, tr), yTrain: pick(y, 1, tr), nTrain: tr.length,
    xTest: pick(x, d, te), yTest: pick(y, 1, te), nTest: te.length,
    xAll: pick(x, d, all), yAll: pick(y, 1, all), nAll: n,
    view, targetRange: spec.task === 'regression' ? [lo, hi] : [0, 1],
  };
}

/** An n x n grid over the view, row 0 at the top (largest x2), as cnnlab.playground.grid_points:
 *  Float32Array(n * n * 2). */
export function gridPoints(view, n) {
  const [x0, x1, y0, y1] = view;
  const xs = linspace(x0, x1, n);
  const ys = linspace(y1, y0, n);
  const out = new Float32Array(n * n * 2);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      out[2 * (r * n + c)] = xs[c];
      out[2 * (r * n + c) + 1] = ys[r];
    }
  }
  return out;
}
