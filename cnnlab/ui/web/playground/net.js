// One student's Playground in the browser: data, network, optimizer, curves, as
// cnnlab.playground.Playground, on the engine's dense layers (engine/dense.js) and optimizers
// (engine/optim.js). The page calls `step` between frames and draws from `boundary`, `neuronMaps`,
// `fittedCurve` and `history`; nothing here touches the DOM or the server.
//
// Same seeds, same numbers as PyTorch: the initial weights are those of
// `torch.manual_seed(seed); Net(...)` (nn.Linear's default init, drawn from PyTorch's generator),
// the batches those of `torch.Generator().manual_seed(seed)`'s randperm, so the PyTorch code the
// page shows for a setting (cnnlab.playground.code_for) trains the same network.

import { createMLP, parameters, forwardBatch, lossAndGrad, makeWork, mseLoss, crossEntropyLoss, softmax }
  from '../engine/dense.js';
import { makeOptimizer } from '../engine/optim.js';
import { TorchGenerator } from './random.js';
import { makeData, featurize, classesOf, gridPoints, linspace, DATASETS } from './data.js';
import { checkSettings, usable, dataKey, MAX_RUN_STEPS, MAX_HISTORY } from './settings.js';

export const GRID = 40;              // the decision boundary: GRID x GRID predictions
export const NEURON_GRID = 16;       // each hidden neuron over the plane, NEURON_GRID^2 values
export const CURVE_SAMPLES = 120;    // the fitted curve (1-D data), sampled this often

/** Fill a net's parameters as `torch.manual_seed(seed)` then nn.Linear(in, out) for each layer
 *  in order: weight ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5)), then the bias
 *  ~ U(-1/sqrt(in), 1/sqrt(in)). `g` is a TorchGenerator (or a seed). */
export function initLikeTorch(net, g) {
  const gen = typeof g === 'number' ? new TorchGenerator(g) : g;
  for (let l = 0; l < net.W.length; l++) {
    const fanIn = net.sizes[l];
    const gain = Math.sqrt(2.0 / (1 + Math.sqrt(5) ** 2));      // torch.nn.init.calculate_gain('leaky_relu', sqrt(5))
    const wb = Math.sqrt(3.0) * (gain / Math.sqrt(fanIn));
    gen.uniform(net.W[l], -wb, wb);
    const bb = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    gen.uniform(net.b[l], -bb, bb);
  }
  return net;
}

/** The layer sizes of the settings' network: features, hidden..., outputs (classes, or 1). */
export function layerSizes(s) {
  return [s.features.length, ...s.hidden, classesOf(s) || 1];
}

/** The network of the settings, initialised from its seed as PyTorch would. */
export function buildNet(s) {
  return initLikeTorch(createMLP(layerSizes(s), s.activation), s.seed);
}

/** The curves: a point per record, at most MAX_HISTORY (every other one dropped when full). */
export class History {
  constructor() {
    this.epoch = []; this.train = []; this.test = []; this.acc = []; this.accTest = [];
    this.every = 1; this.seen = 0;
  }

  add(epoch, train, test, acc, accTest) {
    this.seen += 1;
    if ((this.seen - 1) % this.every) return;
    this.epoch.push(epoch); this.train.push(train); this.test.push(test); this.acc.push(acc);
    this.accTest.push(accTest);
    if (this.epoch.length >= MAX_HISTORY) {
      for (const k of ['epoch', 'train', 'test', 'acc', 'accTest']) this[k] = this[k].filter((_, i) => i % 2 === 0);
      this.every *= 2;
    }
  }
}

export class Playground {
  /** settings: see settings.js (DEFAULTS, PRESETS); throws a SettingsError when out of range. */
  constructor(settings) {
    this.reset(settings);
  }

  /** A new network (the seed's initial weights) on the settings' data; step 0. */
  reset(settings) {
    this.settings = checkSettings(usable(settings || this.settings));
    const s = this.settings;
    this.data = makeData(s);
    this._features();
    this.net = buildNet(s);
    this.optimizer = makeOptimizer(s.optimizer, parameters(this.net), s.lr);
    this.batches = new TorchGenerator(s.seed);
    this.order = null; this.pos = 0;
    this.stepCount = 0; this.seen = 0;
    this.history = new History();
    this.lastLoss = null;             // the last batch's loss (with the penalty), as loss.item()
    this.last = {};
    this.record();
  }

  /** Apply new settings between steps, as cnnlab.playground.Playground.update: what shapes the
   *  net (data set, classes, features, layers, seed) starts a new one; the rest carries on training
   *  the same net. Returns 'new network', 'settings changed' or ''. */
  update(settings) {
    const next = checkSettings(usable(settings));
    const old = this.settings;
    if (JSON.stringify(next) === JSON.stringify(old)) return '';
    const shape = next.dataset !== old.dataset || next.features.join() !== old.features.join() ||
      next.hidden.join() !== old.hidden.join() || classesOf(next) !== classesOf(old) || next.seed !== old.seed;
    if (shape) {
      this.reset(next);
      return 'new network';
    }
    this.settings = next;
    if (next.optimizer !== old.optimizer) this.optimizer = makeOptimizer(next.optimizer, parameters(this.net), next.lr);
    else if (next.lr !== old.lr) this.optimizer.lr = next.lr;
    this.net.activation = next.activation;
    if (dataKey(next) !== dataKey(old)) {
      this.data = makeData(next);
      this._features();
      this.order = null; this.pos = 0;
    }
    this.last = this.evaluate();       // the numbers shown now; the curves get a point at the next step
    return 'settings changed';
  }

  _features() {
    const d = this.data;
    const f = this.settings.features;
    this.fTrain = featurize(d.xTrain, d.nTrain, d.dims, f);
    this.fTest = featurize(d.xTest, d.nTest, d.dims, f);
    this.work = null;
    this.xb = null;
    this.evalWork = null;
    this.grid = null;
    this.wrong = new Uint8Array(d.nAll);      // 1 where the network's class is wrong (train, then test)
  }

  get finished() { return this.stepCount >= MAX_RUN_STEPS; }

  get epoch() { return this.seen / Math.max(1, this.data.nTrain); }

  /** The next batch's rows: every training point when they fit in a batch (as the course), else
   *  the next slice of a randperm of them, a new one each epoch. */
  _batch() {
    const s = this.settings;
    const n = this.data.nTrain;
    if (n <= s.batch_size) return null;
    if (this.order === null || this.pos >= n) {
      this.order = this.batches.randperm(n);
      this.pos = 0;
    }
    const idx = this.order.subarray(this.pos, Math.min(n, this.pos + s.batch_size));
    this.pos += s.batch_size;
    return idx;
  }

  /** Train up to n steps (default: steps per frame); returns how many ran. Records the curves
   *  once at the end, as the server did after each call. */
  step(n = this.settings.steps_per_frame, { record = true } = {}) {
    n = Math.max(0, Math.min(n, MAX_RUN_STEPS - this.stepCount));
    const s = this.settings;
    const d = this.data;
    const k = this.net.sizes[0];
    const opts = { loss: d.task === 'classification' ? 'ce' : 'mse', regularization: s.regularization, regRate: s.reg_rate };
    const bs = Math.min(s.batch_size, d.nTrain);
    if (!this.work || this.work.n < bs) {
      this.work = makeWork(this.net, bs);
      this.xb = new Float32Array(bs * k);
      this.yb = d.task === 'classification' ? new Int32Array(bs) : new Float32Array(bs);
    }
    for (let t = 0; t < n; t++) {
      const idx = this._batch();
      let X = this.fTrain;
      let Y = d.yTrain;
      let m = d.nTrain;
      if (idx) {
        m = idx.length;
        for (let i = 0; i < m; i++) {
          const r = idx[i];
          for (let j = 0; j < k; j++) this.xb[i * k + j] = this.fTrain[r * k + j];
          this.yb[i] = d.yTrain[r];
        }
        X = this.xb; Y = this.yb;
      }
      const r = lossAndGrad(this.net, X, Y, m, opts, this.work);
      this.optimizer.step(r.grads);
      this.lastLoss = r.loss;
      this.stepCount += 1;
      this.seen += m;
    }
    if (n && record) this.record();
    return n;
  }

  /** Loss (without the penalty) and accuracy on the training and test points; marks the points
   *  the network gets wrong in `this.wrong` (classification; the order of data.xAll). */
  evaluate() {
    const d = this.data;
    const out = {};
    const L = this.net.sizes.length - 1;
    const k = this.net.sizes[L];
    let at = 0;
    for (const [part, X, Y, n] of [['train', this.fTrain, d.yTrain, d.nTrain], ['test', this.fTest, d.yTest, d.nTest]]) {
      if (!n) { out[part] = null; out[`${part}Acc`] = null; continue; }
      const w = this.evalWork = forwardBatch(this.net, X, n, this.evalWork);
      const o = w.acts[L];
      if (d.task === 'regression') {
        out[part] = mseLoss(o, Y, n, 1);
        out[`${part}Acc`] = null;
      } else {
        out[part] = crossEntropyLoss(o, Y, n, k);
        let right = 0;
        for (let i = 0; i < n; i++) {
          const ok = argmax(o, i * k, k) === Y[i];
          right += ok;
          this.wrong[at + i] = ok ? 0 : 1;
        }
        out[`${part}Acc`] = right / n;
      }
      at += n;
    }
    return out;
  }

  record() {
    const r = this.evaluate();
    this.last = r;
    this.history.add(Math.round(this.epoch * 1e4) / 1e4, r.train, r.test, r.trainAcc, r.testAcc);
  }

  /** The network's outputs at n points of the raw input (x: n * dims), as a Float32Array of
   *  n * outputs (logits for classification). */
  predict(x, n) {
    const f = featurize(x, n, this.data.dims, this.settings.features);
    const w = forwardBatch(this.net, f, n);
    return w.acts[this.net.sizes.length - 1].slice(0, n * this.net.sizes[this.net.sizes.length - 1]);
  }

  /** Everything a frame draws, from one forward pass over a grid (every layer's output kept, as
   *  CNN Explainer draws from one pass). 2-D data: the boundary over a size x size grid of the
   *  plane (row 0 at the top): classification { kind: 'class', classes, probs (size^2 * classes,
   *  softmax) }, regression { kind: 'reg2', values (size^2), targetRange }; and every hidden
   *  neuron's map over the same grid. 1-D data: { kind: 'reg1', xs, ys } (the fitted curve at
   *  `samples` x values) and every hidden neuron's output there. `neurons[l][j]` is hidden layer
   *  l + 1's neuron j (a Float32Array), `scales[l][j]` its largest |value| (to colour it).
   *  The arrays are this Playground's own, overwritten by the next call: draw them, then let go. */
  pictures(size = GRID, samples = CURVE_SAMPLES) {
    const d = this.data;
    const s = this.settings;
    const m = d.dims === 1 ? samples : size * size;
    if (!this.grid || this.grid.m !== m) {
      const pts = d.dims === 1 ? linspace(d.view[0], d.view[1], samples) : gridPoints(d.view, size);
      this.grid = { m, pts, feats: featurize(pts, m, d.dims, s.features), work: null };
    }
    const g = this.grid;
    const w = g.work = forwardBatch(this.net, g.feats, m, g.work);
    const L = this.net.sizes.length - 1;
    const out = w.acts[L];
    const k = classesOf(s);
    if (!g.neurons || g.neurons.length !== L - 1 || g.neurons.some((maps, l) => maps.length !== this.net.sizes[l + 1])) {
      g.neurons = this.net.sizes.slice(1, L).map((width) => Array.from({ length: width }, () => new Float32Array(m)));
      g.scales = this.net.sizes.slice(1, L).map((width) => new Array(width).fill(0));
      g.values = new Float32Array(m * Math.max(1, k));
    }
    for (let l = 1; l < L; l++) {
      const width = this.net.sizes[l];
      const A = w.acts[l];
      for (let j = 0; j < width; j++) {
        const v = g.neurons[l - 1][j];
        let most = 0;
        for (let i = 0; i < m; i++) {
          const a = A[i * width + j];
          v[i] = a;
          if (Math.abs(a) > most) most = Math.abs(a);
        }
        g.scales[l - 1][j] = most;
      }
    }
    const neurons = g.neurons;
    const scales = g.scales;
    const values = g.values;
    if (!k) {
      values.set(out.subarray(0, m));
      if (d.dims === 1) return { kind: 'reg1', xs: g.pts, ys: values, neurons, scales };
      return { kind: 'reg2', size, values, targetRange: d.targetRange, neurons, scales };
    }
    for (let i = 0; i < m; i++) {                 // softmax of each grid point's logits
      const at = i * k;
      let most = -Infinity;
      for (let j = 0; j < k; j++) if (out[at + j] > most) most = out[at + j];
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(out[at + j] - most);
      for (let j = 0; j < k; j++) values[at + j] = Math.exp(out[at + j] - most) / sum;
    }
    return { kind: 'class', size, classes: k, probs: values, neurons, scales };
  }

  /** The decision boundary (2-D data): GRID x GRID values, row 0 at the top. Classification:
   *  { kind: 'class', probs: Float32Array(size * size * classes) } (softmax); regression:
   *  { kind: 'reg2', values: Float32Array(size * size), targetRange }. */
  boundary(size = GRID) {
    const grid = gridPoints(this.data.view, size);
    const out = this.predict(grid, size * size);
    const k = classesOf(this.settings);
    if (!k) return { kind: 'reg2', size, values: out, targetRange: this.data.targetRange };
    const probs = new Float32Array(size * size * k);
    for (let i = 0; i < size * size; i++) probs.set(softmax(out.subarray(i * k, (i + 1) * k)), i * k);
    return { kind: 'class', size, classes: k, probs };
  }

  /** 1-D data: the fitted curve at `samples` x values across the view. */
  fittedCurve(samples = CURVE_SAMPLES) {
    const [x0, x1] = this.data.view;
    const xs = linspace(x0, x1, samples);
    return { xs, ys: this.predict(xs, samples) };
  }

  /** Each neuron of hidden layer `layer` (1 = first) over the inputs. 2-D: a size x size map per
   *  neuron over the plane (row 0 at the top), with its largest |value| (scale) for colouring;
   *  1-D: its output at `samples` x values. { layer, layers, n, maps: [Float32Array], scales }. */
  neuronMaps(layer = 1, size = NEURON_GRID, samples = Math.floor(CURVE_SAMPLES / 3)) {
    const s = this.settings;
    if (!s.hidden.length) return { layer: 0, layers: 0, n: 0, maps: [], scales: [] };
    layer = Math.max(1, Math.min(Math.floor(layer) || 1, s.hidden.length));
    const d = this.data;
    let pts;
    let m;
    if (d.dims === 1) {
      m = samples;
      pts = linspace(d.view[0], d.view[1], m);
    } else {
      m = size * size;
      pts = gridPoints(d.view, size);
    }
    const w = forwardBatch(this.net, featurize(pts, m, d.dims, s.features), m);
    const A = w.acts[layer];
    const width = this.net.sizes[layer];
    const maps = [];
    const scales = [];
    for (let j = 0; j < width; j++) {
      const v = new Float32Array(m);
      let big = 0;
      for (let i = 0; i < m; i++) { v[i] = A[i * width + j]; big = Math.max(big, Math.abs(v[i])); }
      maps.push(v);
      scales.push(big);
    }
    return { layer, layers: s.hidden.length, n: width, dims: d.dims, size: d.dims === 1 ? m : size, maps, scales };
  }
}

function argmax(a, at, k) {
  let best = 0;
  for (let j = 1; j < k; j++) if (a[at + j] > a[at + best]) best = j;
  return best;
}

export { DATASETS };
