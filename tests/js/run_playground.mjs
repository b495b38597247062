// Runs the browser Playground's code under node for tests/test_web_playground.py.
//   node tests/js/run_playground.mjs REQUEST.json   -> prints one JSON object
// REQUEST may hold:
//   "cases" + "batches": training from given initial weights over fixed batches (PyTorch's
//       fixtures): each case {id, sizes, activation, loss ('mse' | 'ce'), optimizer, lr,
//       regularization, reg_rate, init: [[...]] in parameters() order, batches: a key of "batches"};
//       "batches": {key: {n, steps, X, Y}}. Answers {id, losses (each step's), final (weights)}.
//   "runs": [{settings, steps}]: a whole Playground from its settings (its own data, initial
//       weights, batches); answers the data, the initial and final weights, the last evaluation
//       and the batch it trained on.
//   "presets": true: the course's figures: both presets trained as long as the course does, and
//       the race.
import { readFileSync } from 'node:fs';
import { lossAndGrad, createMLP, parameters, makeWork } from '../../cnnlab/ui/web/engine/dense.js';
import { makeOptimizer } from '../../cnnlab/ui/web/engine/optim.js';
import { Playground } from '../../cnnlab/ui/web/playground/net.js';
import { Race, RACE_STEPS } from '../../cnnlab/ui/web/playground/race.js';
import { PRESETS, PRESET_STEPS } from '../../cnnlab/ui/web/playground/settings.js';

function runCase(c, batches) {
  const b = batches[c.batches];
  const net = createMLP(c.sizes, c.activation);
  const params = parameters(net);
  params.forEach((p, k) => p.set(c.init[k]));
  const opt = makeOptimizer(c.optimizer, params, c.lr);
  const inF = c.sizes[0];
  const yPer = c.loss === 'ce' ? 1 : c.sizes[c.sizes.length - 1];
  const X = Float32Array.from(b.X);
  const Y = c.loss === 'ce' ? Int32Array.from(b.Y) : Float32Array.from(b.Y);
  const work = makeWork(net, b.n);
  const losses = [];
  for (let s = 0; s < b.steps; s++) {
    const xb = X.subarray(s * b.n * inF, (s + 1) * b.n * inF);
    const yb = Y.subarray(s * b.n * yPer, (s + 1) * b.n * yPer);
    const r = lossAndGrad(net, xb, yb, b.n, { loss: c.loss, regularization: c.regularization, regRate: c.reg_rate },
      work);
    losses.push(r.loss);
    opt.step(r.grads);
  }
  return { id: c.id, losses, final: params.map((p) => Array.from(p)) };
}

function weights(net) { return parameters(net).map((p) => Array.from(p)); }

function runSettings({ settings, steps }) {
  const p = new Playground(settings);
  const init = weights(p.net);
  const losses = [];
  while (p.stepCount < steps) {                      // a frame's steps at a time, as the page plays
    p.step(Math.min(p.settings.steps_per_frame, steps - p.stepCount));
    losses.push(p.lastLoss);
  }
  const d = p.data;
  return { x: Array.from(d.xAll), y: Array.from(d.yAll), nTrain: d.nTrain, init, final: weights(p.net),
    last: p.last, losses, steps: p.stepCount, batch_size: p.settings.batch_size };
}

function presets() {
  const out = {};
  for (const name of Object.keys(PRESETS)) {
    const p = new Playground(PRESETS[name]);
    const first = p.last;
    while (p.stepCount < PRESET_STEPS[name]) p.step();
    out[name] = { steps: p.stepCount, first, last: p.last };
  }
  const race = new Race(1);
  while (!race.finished) race.step(25);
  out.race = { steps: race.stepCount, total: RACE_STEPS, last50: race.recent(50),
    final: Object.fromEntries(Object.entries(race.losses).map(([k, v]) => [k, v[v.length - 1]])),
    losses: race.losses, init: weights(race.nets.sgd) };
  return out;
}

const request = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const answer = {};
if (request.cases) answer.cases = request.cases.map((c) => runCase(c, request.batches));
if (request.runs) answer.runs = request.runs.map(runSettings);
if (request.presets) answer.presets = presets();
process.stdout.write(JSON.stringify(answer));
