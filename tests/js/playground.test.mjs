// Unit tests of the browser Playground that need neither a browser nor PyTorch:
//   node --test tests/js/playground.test.mjs
// (the comparison with PyTorch is tests/test_web_playground.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linear, softmax, ACTIVATIONS, createMLP, parameters, lossAndGrad, forwardBatch, cloneMLP }
  from '../../cnnlab/ui/web/engine/dense.js';
import { makeOptimizer, OPTIMIZER_NAMES } from '../../cnnlab/ui/web/engine/optim.js';
import { TorchGenerator } from '../../cnnlab/ui/web/playground/random.js';
import { makeData, DATASETS, featurize, roundHalfEven } from '../../cnnlab/ui/web/playground/data.js';
import { Playground, buildNet, initLikeTorch } from '../../cnnlab/ui/web/playground/net.js';
import { Race, RACE_NAMES } from '../../cnnlab/ui/web/playground/race.js';
import { DEFAULTS, PRESETS, toQuery, fromQuery, checkSettings, usable, suggested, weightsToJSON, weightsFromJSON,
  SettingsError, DATASET_NAMES, FEATURE_NAMES, ACTIVATION_NAMES, MAX_HIDDEN_LAYERS, MAX_NEURONS,
  MAX_STEP_WORK, maxBatch, weightCount }
  from '../../cnnlab/ui/web/playground/settings.js';

const close = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b} (tolerance ${tol})`);

// ------------------------------------------------------------------ dense layers
test('linear is W x + b with PyTorch\'s row-major weight', () => {
  const y = linear(Float32Array.of(1, 2), Float32Array.of(1, 0, 0, 1, 3, -1), Float32Array.of(0.5, 0, 1), 2, 3);
  assert.deepEqual(Array.from(y), [1.5, 2, 2]);
  const out = new Float32Array(3);
  assert.equal(linear(Float32Array.of(1, 2), Float32Array.of(1, 0, 0, 1, 3, -1), null, 2, 3, out), out);
});

test('softmax is stable for large logits and sums to one', () => {
  const p = softmax([1000, 1000, 999]);
  close(p[0] + p[1] + p[2], 1, 1e-6, 'sum');
  close(p[0], p[1], 0, 'ties');
  assert.ok(p.every(Number.isFinite));
  close(softmax([-1000, 0])[1], 1, 1e-7, 'one-hot');
});

test('every activation\'s derivative is its slope', () => {
  for (const [name, a] of Object.entries(ACTIVATIONS)) {
    for (const x of [-2.3, -0.4, 0.7, 1.9]) {
      const h = 1e-5;
      const slope = (a.f(x + h) - a.f(x - h)) / (2 * h);
      close(a.df(x, a.f(x)), slope, 1e-6, `${name} df at ${x}`);
      close(a.dy(a.f(x)), slope, 1e-6, `${name} dy at ${x}`);
    }
  }
  assert.equal(ACTIVATIONS.relu.df(0, 0), 0);        // PyTorch: no gradient at exactly 0
});

function randomNet(sizes, activation, seed) {
  return initLikeTorch(createMLP(sizes, activation), seed);
}

test('gradients agree with finite differences (every activation, both losses, L1 and L2)', (t) => {
  const g = new TorchGenerator(3);
  const n = 6;
  const X = g.normal(new Float32Array(n * 3));
  const targets = g.normal(new Float32Array(n * 1));
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  let checked = 0;
  let skipped = 0;
  // ReLU's kinks: a difference across one says nothing; skip a parameter whose +-eps turns a unit on or off
  const pattern = (net) => forwardBatch(net, X, n).acts.slice(1, -1).map((a) => Array.from(a, (v) => v > 0).join()).join('|');
  for (const activation of Object.keys(ACTIVATIONS)) {
    for (const loss of ['mse', 'ce']) {
      for (const [regularization, regRate] of [['none', 0], ['L2', 0.05], ['L1', 0.02]]) {
        const net = randomNet([3, 5, 4, loss === 'ce' ? 3 : 1], activation, 11);
        const Y = loss === 'ce' ? labels : targets;
        const opts = { loss, regularization, regRate };
        const grads = lossAndGrad(net, X, Y, n, opts).grads.map((a) => a.slice());
        const params = parameters(net);
        params.forEach((p, k) => {
          for (let i = 0; i < p.length; i++) {
            const keep = p[i];
            const eps = 1e-2;
            const at = activation === 'relu' ? pattern(net) : '';
            p[i] = keep + eps;
            const up = lossAndGrad(net, X, Y, n, opts).loss;
            const hi = p[i];
            const kinkUp = activation === 'relu' && pattern(net) !== at;
            p[i] = keep - eps;
            const down = lossAndGrad(net, X, Y, n, opts).loss;
            const lo = p[i];
            const kinkDown = activation === 'relu' && pattern(net) !== at;
            p[i] = keep;
            if (kinkUp || kinkDown || (regularization === 'L1' && k % 2 === 0 && Math.abs(keep) < eps)) {
              skipped++;
              continue;
            }
            const fd = (up - down) / (hi - lo);
            close(grads[k][i], fd, 2e-3 + 2e-2 * Math.abs(fd), `${activation} ${loss} ${regularization} param ${k}[${i}]`);
            checked++;
          }
        });
      }
    }
  }
  assert.ok(checked > 1000 && skipped < 0.1 * checked, `${checked} checked, ${skipped} skipped`);
  t.diagnostic(`${checked} parameters checked, ${skipped} skipped at a kink`);
});

test('a batch through forwardBatch is each row through linear + activation', () => {
  const net = randomNet([2, 4, 3], 'tanh', 5);
  const X = Float32Array.of(0.5, -1, 2, 0.25);
  const out = forwardBatch(net, X, 2).acts[2];
  for (let r = 0; r < 2; r++) {
    const h = linear(X.subarray(2 * r, 2 * r + 2), net.W[0], net.b[0], 2, 4).map(ACTIVATIONS.tanh.f);
    const y = linear(h, net.W[1], net.b[1], 4, 3);
    for (let j = 0; j < 3; j++) close(out[3 * r + j], y[j], 1e-6, `row ${r} out ${j}`);
  }
});

// ------------------------------------------------------------------ optimizers
test('the optimizer factory knows the course\'s four and refuses others', () => {
  assert.deepEqual(OPTIMIZER_NAMES, ['sgd', 'momentum', 'rmsprop', 'adam']);
  assert.throws(() => makeOptimizer('adagrad', [], 0.1), /unknown optimizer "adagrad"/);
});

test('first steps: SGD and Momentum move by lr * g; Adam by about lr, whatever the gradient\'s size', () => {
  for (const name of OPTIMIZER_NAMES) {
    const p = Float32Array.of(1, -1, 0.5);
    const g = Float32Array.of(0.2, -3, 1e-4);
    makeOptimizer(name, [p], 0.01).step([g]);
    const moved = [1 - p[0], -1 - p[1], 0.5 - p[2]];
    if (name === 'sgd' || name === 'momentum') moved.forEach((m, i) => close(m, 0.01 * g[i], 1e-7, name));
    if (name === 'adam') moved.forEach((m, i) => close(m, 0.01 * Math.sign(g[i]), 1e-5, name));
  }
});

test('changing lr between steps takes effect at the next step', () => {
  const p = Float32Array.of(1);
  const opt = makeOptimizer('sgd', [p], 0.1);
  opt.step([Float32Array.of(1)]);
  opt.lr = 0.5;
  opt.step([Float32Array.of(1)]);
  close(p[0], 1 - 0.1 - 0.5, 1e-6, 'p');
});

// ------------------------------------------------------------------ seeded data and weights
test('a data seed gives the same data every time, another seed other data', () => {
  for (const name of DATASET_NAMES.filter((n) => !DATASETS[n].own)) {
    const s = usable({ ...DEFAULTS, dataset: name, points: 120, noise: 0.3, classes: 3, train_ratio: 0.5,
      features: DATASETS[name].dims === 1 ? ['x1'] : ['x1', 'x2'] });
    const a = makeData(s);
    const b = makeData(s);
    assert.deepEqual(a.xAll, b.xAll, name);
    assert.deepEqual(a.yAll, b.yAll, name);
    assert.equal(a.nTrain, 60, name);
    const c = makeData({ ...s, data_seed: 2 });
    assert.notDeepEqual(a.xAll, c.xAll, name);
  }
});

test('PyTorch\'s generator: known values of torch.manual_seed(0)', () => {
  // torch.Generator().manual_seed(0): torch.rand(3) and torch.randperm(5) (PyTorch 2.x, CPU)
  const g = new TorchGenerator(0);
  const r = g.uniform(new Float32Array(3));
  assert.deepEqual(Array.from(r, (v) => Number(v.toFixed(4))), [0.4963, 0.7682, 0.0885]);
});

test('a seed gives the same initial weights; Reset goes back to them', () => {
  const s = { ...PRESETS.classification, hidden: [6, 6] };
  assert.deepEqual(parameters(buildNet(s)), parameters(buildNet(s)));
  assert.notDeepEqual(parameters(buildNet(s)), parameters(buildNet({ ...s, seed: 2 })));
  const p = new Playground(s);
  const start = parameters(p.net).map((a) => a.slice());
  p.step(20);
  assert.notDeepEqual(parameters(p.net), start);
  p.reset();
  assert.deepEqual(parameters(p.net), start);
  assert.equal(p.stepCount, 0);
});

test('two playgrounds from the same settings train the same, step for step', () => {
  const s = suggested('spiral', { ...DEFAULTS, hidden: [8, 8], optimizer: 'adam', lr: 0.03 });
  const a = new Playground(s);
  const b = new Playground(s);
  for (let i = 0; i < 10; i++) { a.step(7); b.step(7); }
  assert.deepEqual(parameters(a.net), parameters(b.net));
  assert.equal(a.lastLoss, b.lastLoss);
});

test('a setting changed between steps: the learning rate keeps the network, the layers make a new one', () => {
  const p = new Playground(PRESETS.regression);
  p.step(10);
  const trained = parameters(p.net).map((a) => a.slice());
  assert.equal(p.update({ ...p.settings, lr: 0.03 }), 'settings changed');
  assert.deepEqual(parameters(p.net), trained);
  assert.equal(p.optimizer.lr, 0.03);
  assert.equal(p.update({ ...p.settings, lr: 0.03 }), '');
  assert.equal(p.update({ ...p.settings, hidden: [4, 4] }), 'new network');
  assert.equal(p.stepCount, 0);
  assert.deepEqual(p.net.sizes, [1, 4, 4, 1]);
});

test('the pictures: a probability per class on the boundary grid, a map per neuron', () => {
  const p = new Playground({ ...suggested('gaussian', { ...DEFAULTS }), classes: 4, hidden: [5, 3] });
  p.step(5);
  const b = p.boundary(40);
  assert.equal(b.kind, 'class');
  assert.equal(b.probs.length, 40 * 40 * 4);
  close(b.probs[0] + b.probs[1] + b.probs[2] + b.probs[3], 1, 1e-6, 'sum');
  const m = p.neuronMaps(2, 16);
  assert.equal(m.n, 3);
  assert.equal(m.maps[0].length, 256);
  const curve = new Playground(PRESETS.regression);
  assert.equal(curve.fittedCurve(120).ys.length, 120);
  assert.equal(curve.neuronMaps(1).maps[0].length, 40);
});

test('the race: four copies of one network, the same batches, one step each per step', () => {
  const r = new Race(1);
  const w = RACE_NAMES.map((n) => parameters(r.nets[n]));
  w.forEach((ps) => assert.deepEqual(ps, w[0]));
  assert.equal(r.step(40), 40);
  RACE_NAMES.forEach((n) => assert.equal(r.losses[n].length, 40));
  assert.equal(r.losses.sgd[0], r.losses.adam[0]);            // the first batch, before any step differs
  assert.notEqual(r.losses.sgd[39], r.losses.adam[39]);
});

test('Python\'s round: halves go to the even neighbour', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 16.5, 17.5, 2.4, -0.5].map(roundHalfEven), [0, 2, 2, 16, 18, 2, -0]);
});

// ------------------------------------------------------------------ settings <-> the page's address
function randomSettings(g) {
  const pick = (a) => a[g.random() % a.length];
  const dataset = pick(DATASET_NAMES.filter((n) => !DATASETS[n].own));
  const dims1 = DATASETS[dataset].dims === 1;
  const features = (dims1 ? ['x1', 'x1^2', 'sin(x1)'] : FEATURE_NAMES).filter(() => g.random() % 2) ;
  return checkSettings(usable({
    dataset, classes: 2 + (g.random() % 3), noise: (g.random() % 41) / 20, points: 10 + (g.random() % 991),
    train_ratio: 0.1 + (g.random() % 19) / 20, features: features.length ? features : ['x1'],
    hidden: Array.from({ length: g.random() % (MAX_HIDDEN_LAYERS + 1) }, () => 1 + (g.random() % MAX_NEURONS)),
    activation: pick(ACTIVATION_NAMES), regularization: pick(['none', 'L1', 'L2']), reg_rate: pick([0, 0.001, 0.03, 3]),
    optimizer: pick(OPTIMIZER_NAMES), lr: pick([0.00001, 0.003, 0.03, 0.2, 10]), batch_size: 1 + (g.random() % 1000),
    steps_per_frame: 1 + (g.random() % 25), data_seed: g.random() >>> 1, seed: g.random() >>> 1,
  }));
}

/** Random own points: a class on the plane or a curve's (x, y). */
function randomOwn(g) {
  const curve = g.random() % 2 === 1;
  const n = 2 + (g.random() % 40);
  const v = () => Number(((g.random() % 2001) / 100 - 10).toPrecision(6));
  const own = Array.from({ length: n }, () => (curve ? [v(), v()] : [v() / 2, v() / 2, g.random() % 3]));
  return checkSettings(usable({ ...DEFAULTS, dataset: curve ? 'own-curve' : 'own-class', classes: 3, own,
    features: curve ? ['x1'] : ['x1', 'x2'], train_ratio: 1, batch_size: 10 }));
}

test('settings -> the address -> the same settings (presets and 300 random ones)', () => {
  const g = new TorchGenerator(9);
  const all = [PRESETS.regression, PRESETS.classification, ...Array.from({ length: 300 }, () => randomSettings(g)),
    ...Array.from({ length: 30 }, () => randomOwn(g))];
  for (const s of all) {
    const q = toQuery(s);
    for (const prefix of ['', '?', '#']) {
      const back = fromQuery(prefix + q);
      assert.deepEqual(back.problems, [], q);
      assert.deepEqual(back.settings, { ...s, features: [...s.features], hidden: [...s.hidden] }, q);
    }
  }
});

test('an address with bad or unknown values: the rest applies, each bad one is named', () => {
  const { settings, problems } = fromQuery('data=circle&lr=abc&hidden=4,99&act=swish&points=250&utm_source=qr&seed=7');
  assert.equal(settings.dataset, 'circle');
  assert.equal(settings.points, 250);
  assert.equal(settings.seed, 7);
  assert.equal(settings.lr, DEFAULTS.lr);
  assert.deepEqual(settings.hidden, DEFAULTS.hidden);
  assert.deepEqual(problems.map((p) => p.key), ['hidden', 'act', 'lr']);
  assert.ok(problems.every((p) => p.error instanceof SettingsError && p.error.key.startsWith('playground.')));
  assert.deepEqual(fromQuery('').settings, { ...DEFAULTS, features: ['x1'], hidden: [10] });
});

test('a big network\'s batch is capped: usable lowers it, the check refuses it, small networks keep every batch', () => {
  const largest = { ...DEFAULTS, dataset: 'gaussian', classes: 4, points: 1000, features: [...FEATURE_NAMES],
    hidden: Array(MAX_HIDDEN_LAYERS).fill(MAX_NEURONS), batch_size: 1000 };
  assert.equal(weightCount(largest), 7 * 16 + 16 + 5 * (16 * 16 + 16) + 16 * 4 + 4);
  assert.equal(maxBatch(largest), Math.floor(MAX_STEP_WORK / weightCount(largest)));
  assert.equal(usable(largest).batch_size, maxBatch(largest));
  assert.ok(weightCount(largest) * usable(largest).batch_size <= MAX_STEP_WORK);
  assert.throws(() => checkSettings(largest), (e) => e.key === 'playground.batch_too_big' && e.params.most === maxBatch(largest));
  assert.equal(usable({ ...largest, batch_size: 10 }).batch_size, 10);                      // under the cap: kept
  for (const s of Object.values(PRESETS)) assert.equal(usable(s).batch_size, s.batch_size);   // the course's full batches
  assert.equal(maxBatch({ ...PRESETS.classification, points: 1000 }), 961);    // 52 weights: nearly every batch
  assert.equal(fromQuery(toQuery(largest)).settings.batch_size, maxBatch(largest));   // a link's batch, lowered
});

test('settings out of range are refused with a sentence key', () => {
  assert.throws(() => checkSettings({ ...DEFAULTS, points: 5 }), (e) => e.key === 'playground.out_of_range'
    && e.params.what === 'playground.what.points');
  assert.throws(() => checkSettings({ ...DEFAULTS, hidden: [4, 4, 4, 4, 4, 4, 4] }), (e) => e.key === 'playground.max_layers');
  assert.throws(() => checkSettings({ ...DEFAULTS, features: ['x2'] }), (e) => e.key === 'playground.pick_features');
});

// ------------------------------------------------------------------ weights <-> a small file
test('weights saved to a file load back exactly, with their settings', () => {
  const p = new Playground({ ...suggested('xor', { ...DEFAULTS }), hidden: [4, 3], features: ['x1', 'x2', 'x1*x2'] });
  p.step(25);
  const text = weightsToJSON(p.net, p.settings);
  assert.ok(text.length < 4000, `${text.length} bytes`);
  const back = weightsFromJSON(text);
  assert.deepEqual(back.settings, p.settings);
  const q = new Playground(back.settings);
  parameters(q.net).forEach((a, k) => a.set(back.params[k]));
  assert.deepEqual(parameters(q.net), parameters(p.net));
});

test('a file that is not the network\'s is refused with a reason', () => {
  const p = new Playground(PRESETS.classification);
  const doc = JSON.parse(weightsToJSON(p.net, p.settings));
  assert.throws(() => weightsFromJSON('not json'), (e) => e instanceof SettingsError && /not JSON/.test(e.message));
  assert.throws(() => weightsFromJSON(JSON.stringify({ ...doc, format: 'x' })), /format/);
  const wrong = structuredClone(doc);
  wrong.tensors['predict.weight'].data.pop();
  assert.throws(() => weightsFromJSON(JSON.stringify(wrong)), /predict.weight/);
  const nan = structuredClone(doc);
  nan.tensors['hidden.0.bias'].data[0] = 'x';
  assert.throws(() => weightsFromJSON(JSON.stringify(nan)), /not a number/);
  const other = structuredClone(doc);
  other.settings.hidden = [3];
  assert.throws(() => weightsFromJSON(JSON.stringify(other)), /do not match/);
});

test('cloneMLP copies the arrays', () => {
  const a = randomNet([2, 3, 1], 'relu', 1);
  const b = cloneMLP(a);
  b.W[0][0] += 1;
  assert.notEqual(a.W[0][0], b.W[0][0]);
});

test('featurize: each feature from (x1, x2)', () => {
  const f = featurize(Float32Array.of(2, 3), 1, 2, ['x1', 'x2', 'x1^2', 'x2^2', 'x1*x2', 'sin(x1)', 'sin(x2)']);
  assert.deepEqual(Array.from(f, (v) => Number(v.toFixed(5))),
    [2, 3, 4, 9, 6, Number(Math.sin(2).toFixed(5)), Number(Math.sin(3).toFixed(5))]);
});

test('one pass for a frame: the boundary and every neuron, as boundary() and neuronMaps() compute them', () => {
  const p = new Playground({ ...suggested('spiral', { ...DEFAULTS }), classes: 3, hidden: [5, 4], activation: 'tanh' });
  p.step(30);
  const f = p.pictures(16);
  assert.equal(f.kind, 'class');
  assert.deepEqual(Array.from(f.probs), Array.from(p.boundary(16).probs));
  for (const layer of [1, 2]) {
    const m = p.neuronMaps(layer, 16);
    m.maps.forEach((map, j) => assert.deepEqual(f.neurons[layer - 1][j], map));
    assert.deepEqual(f.scales[layer - 1], m.scales);
  }
  const c = new Playground(PRESETS.regression);
  const g = c.pictures();
  assert.equal(g.kind, 'reg1');
  assert.deepEqual(Array.from(g.ys), Array.from(c.fittedCurve().ys));
  const wrong = new Playground(PRESETS.classification);
  wrong.record();
  assert.equal(wrong.wrong.reduce((a, b) => a + b, 0), Math.round((1 - wrong.last.trainAcc) * 200));
});

// ------------------------------------------------------------------ own data
test('own points train like any data set, and a bad row is named', () => {
  const own = [[-2, -2, 0], [-1.5, -2.5, 0], [-2.5, -1, 0], [2, 2, 1], [1.5, 2.5, 1], [2.5, 1, 1]];
  const s = usable({ ...DEFAULTS, dataset: 'own-class', classes: 2, own, features: ['x1', 'x2'], batch_size: 10,
    lr: 0.1 });
  assert.equal(s.points, 6);
  const d = makeData(s);
  assert.deepEqual(Array.from(d.yAll), [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(Array.from(d.xAll.slice(0, 2)), [-2, -2]);
  const p = new Playground(s);
  while (p.stepCount < 100) p.step(10);
  assert.equal(p.last.trainAcc, 1);
  const curve = new Playground(usable({ ...DEFAULTS, dataset: 'own-curve', own: [[-1, 1], [0, 0], [1, 1], [0.5, 0.25]] }));
  assert.deepEqual(curve.data.view.slice(0, 2), [-1, 1]);
  assert.throws(() => checkSettings(usable({ ...s, own: [[0, 0, 0]] })), (e) => e.key === 'playground.own_count');
  assert.throws(() => checkSettings(usable({ ...s, own: [...own, [0, NaN, 1]] })),
    (e) => e.key === 'playground.own_bad_point' && e.params.n === 7);
  assert.throws(() => checkSettings(usable({ ...s, own: [...own, [0, 0, 2]] })),
    (e) => e.key === 'playground.own_bad_class' && e.params.n === 7);
});
