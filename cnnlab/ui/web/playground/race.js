// The optimizer race (the course's lesson 3) in the browser, as cnnlab.playground.Race: four
// copies of one Net(1, 20, 1) (ReLU) trained by SGD, Momentum 0.8, RMSprop alpha 0.9 and
// Adam (0.9, 0.99) at lr 0.01, in lockstep on the same batches of 32 of the course's 1000 points
// (y = x^2 + 0.1 * normal noise): the only difference is the optimizer. Same seed, same data,
// initial weights and batches as the PyTorch race (cnnlab.playground.race_code).

import { createMLP, cloneMLP, parameters, lossAndGrad, makeWork, forwardBatch } from '../engine/dense.js';
import { makeOptimizer, COURSE } from '../engine/optim.js';
import { TorchGenerator } from './random.js';
import { linspace } from './data.js';
import { initLikeTorch } from './net.js';

export const RACE_POINTS = 1000;
export const RACE_NOISE = 0.1;
export const RACE_HIDDEN = 20;
export const RACE_LR = 0.01;
export const RACE_BATCH = 32;
export const RACE_EPOCHS = 12;
export const RACE_STEPS = RACE_EPOCHS * Math.ceil(RACE_POINTS / RACE_BATCH);   // 384 lockstep steps
export const RACE_NAMES = ['sgd', 'momentum', 'rmsprop', 'adam'];
export const RACE_LABELS = Object.fromEntries(RACE_NAMES.map((n) => [n, COURSE[n].label]));

/** The course's race data: x evenly spaced in [-1, 1], y = x^2 + 0.1 * normal noise. */
export function raceData(seed = 1) {
  const g = new TorchGenerator(seed);
  const x = linspace(-1, 1, RACE_POINTS);
  const z = g.normal(new Float32Array(RACE_POINTS));        // torch.normal(torch.zeros(1000, 1))
  const s = Math.fround(RACE_NOISE);
  const y = new Float32Array(RACE_POINTS);
  for (let i = 0; i < RACE_POINTS; i++) y[i] = Math.fround(Math.fround(x[i] * x[i]) + Math.fround(s * z[i]));
  return { x, y };
}

export class Race {
  constructor(seed = 1) {
    this.seed = seed;
    const { x, y } = raceData(seed);
    this.x = x;
    this.y = y;
    const base = initLikeTorch(createMLP([1, RACE_HIDDEN, 1], 'relu'), seed);
    this.nets = Object.fromEntries(RACE_NAMES.map((n) => [n, cloneMLP(base)]));
    this.optimizers = Object.fromEntries(RACE_NAMES.map((n) => [n, makeOptimizer(n, parameters(this.nets[n]), RACE_LR)]));
    this.batches = new TorchGenerator(seed);
    this.order = null;
    this.pos = 0;
    this.stepCount = 0;
    this.losses = Object.fromEntries(RACE_NAMES.map((n) => [n, []]));   // every step's batch loss, as the course plots
    this.work = makeWork(base, RACE_BATCH);
    this.xb = new Float32Array(RACE_BATCH);
    this.yb = new Float32Array(RACE_BATCH);
  }

  get finished() { return this.stepCount >= RACE_STEPS; }

  get epoch() { return this.stepCount * RACE_BATCH / RACE_POINTS; }

  /** Up to n lockstep steps (each optimizer one step on the same batch); returns how many ran. */
  step(n = 8) {
    n = Math.max(0, Math.min(n, RACE_STEPS - this.stepCount));
    for (let t = 0; t < n; t++) {
      if (this.order === null || this.pos >= RACE_POINTS) {
        this.order = this.batches.randperm(RACE_POINTS);
        this.pos = 0;
      }
      const idx = this.order.subarray(this.pos, Math.min(RACE_POINTS, this.pos + RACE_BATCH));
      this.pos += RACE_BATCH;
      const m = idx.length;
      for (let i = 0; i < m; i++) {
        this.xb[i] = this.x[idx[i]];
        this.yb[i] = this.y[idx[i]];
      }
      for (const name of RACE_NAMES) {
        const r = lossAndGrad(this.nets[name], this.xb, this.yb, m, { loss: 'mse' }, this.work);
        this.optimizers[name].step(r.grads);
        this.losses[name].push(r.loss);
      }
      this.stepCount += 1;
    }
    return n;
  }

  /** Each optimizer's fitted curve at `samples` x values in [-1, 1]. */
  curves(samples = 120) {
    const xs = linspace(-1, 1, samples);
    const out = {};
    for (const name of RACE_NAMES) out[name] = forwardBatch(this.nets[name], xs, samples).acts[2].slice(0, samples);
    return { xs, ys: out };
  }

  /** The mean of each optimizer's last `k` batch losses. */
  recent(k = 50) {
    const out = {};
    for (const name of RACE_NAMES) {
      const l = this.losses[name].slice(-k);
      out[name] = l.length ? l.reduce((a, b) => a + b, 0) / l.length : null;
    }
    return out;
  }
}
