// The Playground's settings in the browser: defaults, the course's presets, the limits, checks,
// and two pure conversions: settings <-> the page's address (a teacher's link or QR code starts
// every phone on the same data, network, settings and seed) and weights <-> a small JSON file.
//
// A settings object has cnnlab.playground.Settings' fields and names (snake_case), so the page can
// send it as it is when it asks the server for the PyTorch code of the setting.
// Errors are SettingsError: `key` and `params` name a sentence in cnnlab/i18n (section
// "playground"), `message` is the English one.

import { classesOf } from './data.js';

export const MIN_POINTS = 10;
export const MAX_POINTS = 1000;          // points in a data set (the race uses the course's 1000)
export const MAX_HIDDEN_LAYERS = 6;      // hidden layers 0-6 ...
export const MAX_NEURONS = 16;           // ... of 1-16 neurons
export const MAX_STEPS_PER_FRAME = 25;   // the Speed slider
// A step's work: examples in the batch x the network's weights. A phone keeps >= 10 steps a frame
// at 30 frames a second up to this (bench/playground_browser.py: the largest network, 1,556
// weights, at batch 32); a bigger network gets a smaller largest batch. The course's presets and
// any small network keep every batch up to MAX_POINTS.
export const MAX_STEP_WORK = 50000;
export const MAX_RUN_STEPS = 20000;      // then the run pauses: Reset to start again
export const MAX_HISTORY = 200;          // points per loss curve
export const MAX_SEED = 2 ** 31 - 1;

export const LIMITS = {
  points: [MIN_POINTS, MAX_POINTS], noise: [0, 2], train_ratio: [0.1, 1], classes: [2, 4],
  neurons: [1, MAX_NEURONS], reg_rate: [0, 10], lr: [1e-5, 10], batch_size: [1, MAX_POINTS],
  steps_per_frame: [1, MAX_STEPS_PER_FRAME], data_seed: [0, MAX_SEED], seed: [0, MAX_SEED],
};

export const DATASET_NAMES = ['curve', 'two-clouds', 'circle', 'xor', 'spiral', 'gaussian', 'plane', 'bumps',
  'own-class', 'own-curve'];
export const OWN_DATASETS = ['own-class', 'own-curve'];   // the student's own points, in settings.own
export const MAX_OWN_POINTS = 300;       // points a student taps or pastes
export const OWN_RANGE = 100;            // |a coordinate| of an own point
const DIMS = { curve: 1, 'own-curve': 1 };
const MANY_CLASSES = new Set(['spiral', 'gaussian', 'own-class']);
const DATASET_DEFAULTS = {                 // noise and points of each, as cnnlab.playground.DATASETS
  curve: [0.2, 100], 'two-clouds': [1.0, 200], circle: [0.2, 300], xor: [0.2, 300], spiral: [0.1, 400],
  gaussian: [1.0, 300], plane: [0.05, 300], bumps: [0.05, 400], 'own-class': [0, 0], 'own-curve': [0, 0],
};
export const FEATURE_NAMES = ['x1', 'x2', 'x1^2', 'x2^2', 'x1*x2', 'sin(x1)', 'sin(x2)'];
export const FEATURE_NAMES_1D = ['x1', 'x1^2', 'sin(x1)'];
export const ACTIVATION_NAMES = ['relu', 'tanh', 'sigmoid', 'linear'];
export const REGULARIZATIONS = ['none', 'L1', 'L2'];
export const OPTIMIZER_NAMES = ['sgd', 'momentum', 'rmsprop', 'adam'];

/** The default: the course's first lesson (cnnlab.playground.Settings()). */
export const DEFAULTS = Object.freeze({
  dataset: 'curve', classes: 2, noise: 0.2, points: 100, train_ratio: 1.0, features: ['x1'], hidden: [10],
  activation: 'relu', regularization: 'none', reg_rate: 0.0, optimizer: 'sgd', lr: 0.2, batch_size: 100,
  steps_per_frame: 5, data_seed: 1, seed: 1,
});

/** The course's programs (lesson 3, the race, is race.js). */
export const PRESETS = {
  regression: { ...DEFAULTS },
  classification: { ...DEFAULTS, dataset: 'two-clouds', noise: 1.0, points: 200, features: ['x1', 'x2'], lr: 0.02,
    batch_size: 200, steps_per_frame: 2 },
};
export const PRESET_STEPS = { regression: 200, classification: 100 };   // how long the course trains them

export class SettingsError extends Error {
  constructor(key, params = {}, message = key) {
    super(message);
    this.name = 'SettingsError';
    this.key = key;
    this.params = params;
  }
}

function fmt(v) { return String(Number(v.toPrecision(6))); }

/** `s` if every setting is within the limits; else a SettingsError (cnnlab.playground.check_settings). */
export function checkSettings(s) {
  const number = (name, value, lo, hi) => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < lo || value > hi) {
      throw new SettingsError('playground.out_of_range', { what: `playground.what.${name}`, low: fmt(lo), high: fmt(hi),
        got: String(value) }, `${name} must be between ${fmt(lo)} and ${fmt(hi)} (got ${value}).`);
    }
  };
  const whole = (name, value, lo, hi) => {
    number(name, value, lo, hi);
    if (!Number.isInteger(value)) throw new SettingsError('playground.not_a_number', {}, `${name} must be a whole number.`);
  };
  if (!DATASET_NAMES.includes(s.dataset)) {
    throw new SettingsError('playground.no_dataset', { name: JSON.stringify(s.dataset), choices: DATASET_NAMES.join(', ') },
      `There is no data set called ${JSON.stringify(s.dataset)}.`);
  }
  if (OWN_DATASETS.includes(s.dataset)) checkOwn(s);
  else whole('points', s.points, ...LIMITS.points);
  number('noise', s.noise, ...LIMITS.noise);
  number('train_ratio', s.train_ratio, ...LIMITS.train_ratio);
  whole('classes', s.classes, ...LIMITS.classes);
  if (!Array.isArray(s.hidden) || s.hidden.length > MAX_HIDDEN_LAYERS) {
    throw new SettingsError('playground.max_layers', { most: MAX_HIDDEN_LAYERS },
      `A network here has at most ${MAX_HIDDEN_LAYERS} hidden layers.`);
  }
  for (const width of s.hidden) whole('neurons', width, ...LIMITS.neurons);
  if (!ACTIVATION_NAMES.includes(s.activation)) {
    throw new SettingsError('playground.choose_activation', { choices: ACTIVATION_NAMES.join(', ') },
      `Choose an activation from: ${ACTIVATION_NAMES.join(', ')}.`);
  }
  if (!REGULARIZATIONS.includes(s.regularization)) {
    throw new SettingsError('playground.choose_regularization', { choices: REGULARIZATIONS.join(', ') },
      `Choose a regularization from: ${REGULARIZATIONS.join(', ')}.`);
  }
  number('reg_rate', s.reg_rate, ...LIMITS.reg_rate);
  if (!OPTIMIZER_NAMES.includes(s.optimizer)) {
    throw new SettingsError('playground.choose_optimizer', { choices: OPTIMIZER_NAMES.join(', ') },
      `Choose an optimizer from: ${OPTIMIZER_NAMES.join(', ')}.`);
  }
  number('lr', s.lr, ...LIMITS.lr);
  whole('batch_size', s.batch_size, ...LIMITS.batch_size);
  whole('steps_per_frame', s.steps_per_frame, ...LIMITS.steps_per_frame);
  whole('data_seed', s.data_seed, ...LIMITS.data_seed);
  whole('seed', s.seed, ...LIMITS.seed);
  const allowed = DIMS[s.dataset] === 1 ? FEATURE_NAMES_1D : FEATURE_NAMES;
  if (!Array.isArray(s.features) || !s.features.length || s.features.some((f) => !allowed.includes(f))) {
    throw new SettingsError('playground.pick_features', { choices: allowed.join(', ') },
      `Pick input features from: ${allowed.join(', ')} (at least one).`);
  }
  if (new Set(s.features).size !== s.features.length) {
    throw new SettingsError('playground.feature_once', {}, 'Each input feature can be picked once.');
  }
  const most = maxBatch(s);
  if (s.batch_size > most) {
    throw new SettingsError('playground.batch_too_big', { most },
      `With this network a batch holds at most ${most} points: a bigger one would slow a phone's steps down.`);
  }
  return s;
}

/** The network's weights and biases: features -> hidden... -> classes (or 1 value). */
export function weightCount(s) {
  const sizes = [s.features.length, ...s.hidden, classesOf(s) || 1];
  let n = 0;
  for (let l = 0; l + 1 < sizes.length; l++) n += (sizes[l] + 1) * sizes[l + 1];
  return n;
}

/** The largest batch the settings' network may train on (MAX_STEP_WORK; cnnlab.playground.max_batch). */
export function maxBatch(s) {
  return Math.max(1, Math.min(MAX_POINTS, Math.floor(MAX_STEP_WORK / weightCount(s))));
}

/** Own points: 2 to MAX_OWN_POINTS rows of finite numbers ([x1, x2, class] or [x, y]). */
function checkOwn(s) {
  const rows = s.own;
  const n = Array.isArray(rows) ? rows.length : 0;
  if (n < 2 || n > MAX_OWN_POINTS) {
    throw new SettingsError('playground.own_count', { least: 2, most: MAX_OWN_POINTS, got: n },
      `Own data needs 2 to ${MAX_OWN_POINTS} points (got ${n}).`);
  }
  const width = s.dataset === 'own-class' ? 3 : 2;
  rows.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== width ||
        row.some((v) => typeof v !== 'number' || !Number.isFinite(v) || Math.abs(v) > OWN_RANGE)) {
      throw new SettingsError('playground.own_bad_point', { n: i + 1, most: OWN_RANGE },
        `Point ${i + 1} is not a row of numbers between -${OWN_RANGE} and ${OWN_RANGE}.`);
    }
    if (width === 3 && (!Number.isInteger(row[2]) || row[2] < 0 || row[2] >= s.classes)) {
      throw new SettingsError('playground.own_bad_class', { n: i + 1, most: s.classes - 1 },
        `Point ${i + 1}'s class must be a whole number from 0 to ${s.classes - 1}.`);
    }
  });
}

/** `s` with what does not apply to its data set adjusted (cnnlab.playground.usable): a curve's
 *  features keep only those of x1 (x1 when none is left); each feature once; a batch over the
 *  network's largest (maxBatch) lowered to it. A new object. */
export function usable(s) {
  let features = [...new Set(s.features || [])];
  if (DIMS[s.dataset] === 1) {
    features = features.filter((f) => FEATURE_NAMES_1D.includes(f));
    if (!features.length) features = ['x1'];
  }
  const out = { ...s, features, hidden: [...(s.hidden || [])] };
  if (OWN_DATASETS.includes(s.dataset)) {
    out.own = Array.isArray(s.own) ? s.own.map((r) => (Array.isArray(r) ? [...r] : r)) : [];
    out.points = out.own.length;
  } else {
    delete out.own;
  }
  const most = DATASET_NAMES.includes(s.dataset) && Array.isArray(out.features) ? maxBatch(out) : NaN;
  if (Number.isInteger(out.batch_size) && out.batch_size > most && out.batch_size <= MAX_POINTS) {
    out.batch_size = most;                  // out of range altogether: checkSettings refuses it
  }
  return out;
}

/** What decides the data (cnnlab.playground.data_key), as a string to compare. */
export function dataKey(s) {
  const classes = MANY_CLASSES.has(s.dataset) ? s.classes : 2;
  return JSON.stringify([s.dataset, s.points, Math.round(s.noise * 1e6) / 1e6, classes,
    Math.round(s.train_ratio * 1e6) / 1e6, s.data_seed]);
}

/** Settings for a newly picked data set (cnnlab.ui.playground.suggested): the course's for its
 *  two, TensorFlow Playground's usual ones (half the points for testing, batch 10) for the others;
 *  the network is kept. */
export function suggested(dataset, current) {
  if (dataset === 'curve' || dataset === 'two-clouds') {
    const base = PRESETS[dataset === 'curve' ? 'regression' : 'classification'];
    return { ...base, hidden: current.hidden.length ? [...current.hidden] : [10], data_seed: current.data_seed };
  }
  const [noise, points] = DATASET_DEFAULTS[dataset];
  return { ...current, dataset, noise, points, train_ratio: 0.5, features: ['x1', 'x2'], batch_size: 10,
    steps_per_frame: 5, lr: current.lr <= 0.1 ? current.lr : 0.03 };
}

// ------------------------------------------------------------------ settings <-> the page's address
// Short, readable keys, in a fixed order; lists comma-separated (features, hidden).
const QUERY_KEYS = [
  ['dataset', 'data', 'str'], ['classes', 'classes', 'int'], ['noise', 'noise', 'num'], ['points', 'points', 'int'],
  ['train_ratio', 'train', 'num'], ['features', 'features', 'list'], ['hidden', 'hidden', 'ints'],
  ['activation', 'act', 'str'], ['regularization', 'reg', 'str'], ['reg_rate', 'reg_rate', 'num'],
  ['optimizer', 'opt', 'str'], ['lr', 'lr', 'num'], ['batch_size', 'batch', 'int'], ['steps_per_frame', 'speed', 'int'],
  ['data_seed', 'data_seed', 'int'], ['seed', 'seed', 'int'], ['own', 'own', 'rows'],
];

// Own points in the address: rows joined by '*', numbers by '_' (characters a link keeps as they are).
function rowsToText(rows) { return rows.map((r) => r.map((v) => String(Number(v.toPrecision(6)))).join('_')).join('*'); }
function rowsFromText(text) {
  return text === '' ? [] : text.split('*').map((r) => r.split('_').map((t) => (t.trim() === '' ? NaN : Number(t))));
}

/** Settings -> a query string (no leading '?'), every setting written, so a link means the same
 *  thing even if the defaults change. */
export function toQuery(s) {
  const q = new URLSearchParams();
  for (const [field, key, kind] of QUERY_KEYS) {
    const v = s[field];
    if (kind === 'rows') {
      if (OWN_DATASETS.includes(s.dataset)) q.set(key, rowsToText(v || []));
      continue;
    }
    q.set(key, kind === 'list' || kind === 'ints' ? v.join(',') : String(v));
  }
  return q.toString();
}

/** A query string (with or without '?' or '#') -> { settings, problems }: the settings it names,
 *  each missing or unreadable one from `base` (the defaults), and a list of { key, value } that were
 *  not understood or out of range (those keep base's value), for the page to say so in a sentence.
 *  Unknown keys are ignored (other parts of the page may use the address). */
export function fromQuery(query, base = DEFAULTS) {
  const q = new URLSearchParams(String(query || '').replace(/^[?#]/, ''));
  const s = usable({ ...base });
  const problems = [];
  for (const [field, key, kind] of QUERY_KEYS) {
    if (!q.has(key)) continue;
    const raw = q.get(key);
    let v;
    if (kind === 'str') v = raw;
    else if (kind === 'num') v = raw.trim() === '' ? NaN : Number(raw);
    else if (kind === 'int') v = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    else if (kind === 'list') v = raw === '' ? [] : raw.split(',');
    else if (kind === 'rows') v = rowsFromText(raw);
    else v = raw === '' ? [] : raw.split(',').map((t) => (/^\s*\d+\s*$/.test(t) ? Number(t) : NaN));
    const trial = { ...s, [field]: v };
    if (field === 'dataset' && DIMS[v] === 1) trial.features = usable(trial).features;
    if (field === 'dataset' && OWN_DATASETS.includes(v)) {       // own points come with their data set
      trial.own = rowsFromText(q.get('own') || '');
      if (/^\s*\d+\s*$/.test(q.get('classes') || '')) trial.classes = Number(q.get('classes'));
    }
    try {
      checkSettings(usable(trial));
      Object.assign(s, usable(trial));
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      problems.push({ key, value: raw, error: err });
    }
  }
  return { settings: checkSettings(usable(s)), problems };
}

// ------------------------------------------------------------------ weights <-> a small file
const WEIGHTS_FORMAT = 'cnnlab-playground-weights';

/** The network's weights (and the settings they belong to) as a small JSON text: the layers in
 *  PyTorch's order and names (hidden.0.weight, ..., predict.bias), numbers to float32 precision. */
export function weightsToJSON(net, settings, extra = {}) {
  const names = [];
  const L = net.W.length;
  for (let l = 0; l < L; l++) {
    const prefix = l < L - 1 ? `hidden.${l}` : 'predict';
    names.push([`${prefix}.weight`, net.W[l], [net.sizes[l + 1], net.sizes[l]]], [`${prefix}.bias`, net.b[l], [net.sizes[l + 1]]]);
  }
  const tensors = {};
  for (const [name, a, shape] of names) tensors[name] = { shape, data: Array.from(a, (v) => Number(v.toPrecision(9))) };
  return JSON.stringify({ format: WEIGHTS_FORMAT, version: 1, sizes: net.sizes, activation: net.activation,
    settings, tensors, ...extra });
}

/** A weights file -> { settings, params: [Float32Array] in parameters() order, sizes, activation }.
 *  Checks the format and every shape; a SettingsError says what is wrong. The caller builds a
 *  Playground with `settings` (same data, network and seed), then copies `params` into its net. */
export function weightsFromJSON(text) {
  const bad = (why) => new SettingsError('playground.weights_bad_file', { why }, `This is not a Playground weights file: ${why}.`);
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw bad('it is not JSON');
  }
  if (!doc || doc.format !== WEIGHTS_FORMAT) throw bad('its format is not ' + WEIGHTS_FORMAT);
  if (doc.version !== 1) throw bad(`version ${doc.version} is not known`);
  let settings;
  try {
    settings = checkSettings(usable({ ...DEFAULTS, ...doc.settings }));
  } catch (err) {
    if (err instanceof SettingsError) throw bad(`its settings are out of range (${err.message})`);
    throw err;
  }
  const sizes = doc.sizes;
  const classes = settings.dataset in { 'two-clouds': 1, circle: 1, xor: 1 } ? 2
    : MANY_CLASSES.has(settings.dataset) ? settings.classes : 1;
  const expected = [settings.features.length, ...settings.hidden, classes];
  if (!Array.isArray(sizes) || sizes.join() !== expected.join()) throw bad(`its layers ${sizes} do not match its settings`);
  const params = [];
  const L = sizes.length - 1;
  for (let l = 0; l < L; l++) {
    const prefix = l < L - 1 ? `hidden.${l}` : 'predict';
    for (const [suffix, shape] of [['weight', [sizes[l + 1], sizes[l]]], ['bias', [sizes[l + 1]]]]) {
      const t = doc.tensors && doc.tensors[`${prefix}.${suffix}`];
      const n = shape.reduce((a, b) => a * b, 1);
      if (!t || !Array.isArray(t.data) || t.data.length !== n || String(t.shape) !== String(shape)) {
        throw bad(`${prefix}.${suffix} is missing or has the wrong shape`);
      }
      if (t.data.some((v) => typeof v !== 'number' || !Number.isFinite(v))) throw bad(`${prefix}.${suffix} holds a value that is not a number`);
      params.push(Float32Array.from(t.data));
    }
  }
  if (!ACTIVATION_NAMES.includes(doc.activation)) throw bad('its activation is not known');
  return { settings: { ...settings, activation: doc.activation }, params, sizes, activation: doc.activation };
}
