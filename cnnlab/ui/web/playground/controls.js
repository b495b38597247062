// The Playground's controls as plain HTML: data, network and training settings, read into a
// settings object (settings.js: cnnlab.lessons.playground.Settings' fields) and written back
// from one. Words come from `say` (the page's texts in the reader's language).

import { DATASET_NAMES, FEATURE_NAMES, FEATURE_NAMES_1D, ACTIVATION_NAMES, REGULARIZATIONS, OPTIMIZER_NAMES,
  MAX_HIDDEN_LAYERS, MAX_NEURONS, MIN_POINTS, MAX_POINTS, MAX_STEPS_PER_FRAME, OWN_DATASETS, maxBatch } from './settings.js';
import { DATASETS } from './data.js';

export const LR_CHOICES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.02, 0.03, 0.1, 0.2, 0.3, 1, 3, 10];
export const REG_RATE_CHOICES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
// cnnlab.lessons.playground's input features -> their keys in the "playground.feature" section
const FEATURE_KEYS = { x1: 'x1', x2: 'x2', 'x1^2': 'x1_sq', 'x2^2': 'x2_sq', 'x1*x2': 'x1x2', 'sin(x1)': 'sin_x1',
  'sin(x2)': 'sin_x2' };

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function range(id, label, lo, hi, step, info = '') {
  return `<label class="pgp-field" for="${id}"><span class="pgp-label">${esc(label)} <output for="${id}"></output></span>
    <input type="range" id="${id}" min="${lo}" max="${hi}" step="${step}">
    ${info ? `<small>${esc(info)}</small>` : ''}</label>`;
}

function select(id, label, options) {
  return `<label class="pgp-field" for="${id}"><span class="pgp-label">${esc(label)}</span>
    <select id="${id}">${options.map(([v, t]) => `<option value="${esc(v)}">${esc(t)}</option>`).join('')}</select></label>`;
}

function number(v) { return String(Number(v.toPrecision(6))); }

/** The controls' HTML (inside the element the page gives them). */
export function controlsHTML(say) {
  const plain = (k) => say(k).replace(/\*\*/g, '');
  return `
  <fieldset class="pgp-group"><legend>${esc(plain('data'))}</legend>
    ${select('pg-dataset', say('dataset'), DATASET_NAMES.map((n) => [n, say(`datasets.${n}`)]))}
    <div class="pgp-field-row" id="pg-classes-box">${range('pg-classes', say('classes'), 2, 4, 1)}</div>
    <div class="pgp-made">
      ${range('pg-noise', say('noise'), 0, 2, 0.05)}
      ${range('pg-points', say('points'), MIN_POINTS, MAX_POINTS, 10)}
    </div>
    ${range('pg-ratio', say('ratio'), 10, 100, 5, say('ratio_info'))}
    <div class="pgp-field" id="pg-features" role="group" aria-label="${esc(say('features'))}">
      <span class="pgp-label">${esc(say('features'))}</span>
      <div class="pgp-checks">${FEATURE_NAMES.map((f) => `<label class="pgp-check" data-feature="${esc(f)}">
        <input type="checkbox" value="${esc(f)}"> ${esc(say(`feature.${FEATURE_KEYS[f]}`))}</label>`).join('')}</div>
    </div>
    <button type="button" class="pgp-small pgp-made" id="pg-regenerate">${esc(say('regenerate'))}</button>
  </fieldset>
  <fieldset class="pgp-group"><legend>${esc(plain('network'))}</legend>
    ${range('pg-layers', say('layers'), 0, MAX_HIDDEN_LAYERS, 1)}
    ${range('pg-neurons', say('neurons'), 1, MAX_NEURONS, 1)}
    ${select('pg-activation', say('activation'), ACTIVATION_NAMES.map((n) => [n, say(`activations.${n}`)]))}
  </fieldset>
  <fieldset class="pgp-group"><legend>${esc(plain('training'))}</legend>
    ${select('pg-optimizer', say('optimizer'), OPTIMIZER_NAMES.map((n) => [n, say(`optimizers.${n}`)]))}
    ${select('pg-lr', say('lr'), LR_CHOICES.map((v) => [number(v), number(v)]))}
    ${range('pg-batch', say('batch'), 1, MAX_POINTS, 1, say('batch_info'))}
    <small class="pgp-note" id="pg-batch-cap" hidden></small>
    ${select('pg-regularization', say('regularization'), REGULARIZATIONS.map((n) => [n, say(`regularizations.${n}`)]))}
    ${select('pg-reg-rate', say('reg_rate'), REG_RATE_CHOICES.map((v) => [number(v), number(v)]))}
    ${range('pg-speed', say('speed'), 1, MAX_STEPS_PER_FRAME, 1, say('speed_info'))}
  </fieldset>`;
}

function $(root, id) { return root.querySelector(`#${id}`); }

function setSelect(el, value) {
  const v = number(Number(value));
  if (![...el.options].some((o) => o.value === v)) el.add(new Option(v, v));       // a value from a link
  el.value = v;
}

/** Show settings `s` in the controls (`say` words the note on the network's largest batch). */
export function writeControls(root, s, say) {
  const spec = DATASETS[s.dataset];
  const own = OWN_DATASETS.includes(s.dataset);
  $(root, 'pg-dataset').value = s.dataset;
  $(root, 'pg-classes-box').hidden = !spec.manyClasses || own;
  for (const el of root.querySelectorAll('.pgp-made')) el.hidden = own;
  const most = maxBatch(s);                 // a big network's batch is capped (settings.js: MAX_STEP_WORK)
  $(root, 'pg-batch').max = String(most);
  const cap = $(root, 'pg-batch-cap');
  cap.hidden = most >= MAX_POINTS;
  cap.textContent = cap.hidden ? '' : say('batch_cap', { most });
  const values = { 'pg-classes': s.classes, 'pg-noise': s.noise, 'pg-points': s.points,
    'pg-ratio': Math.round(100 * s.train_ratio), 'pg-layers': s.hidden.length, 'pg-neurons': s.hidden[0] || 4,
    'pg-batch': s.batch_size, 'pg-speed': s.steps_per_frame };
  for (const [id, v] of Object.entries(values)) {
    const el = $(root, id);
    el.value = v;
    showValue(el);
  }
  $(root, 'pg-neurons').disabled = !s.hidden.length;
  const allowed = spec.dims === 1 ? FEATURE_NAMES_1D : FEATURE_NAMES;
  for (const box of root.querySelectorAll('#pg-features .pgp-check')) {
    const f = box.dataset.feature;
    box.hidden = !allowed.includes(f);
    box.querySelector('input').checked = s.features.includes(f);
  }
  $(root, 'pg-activation').value = s.activation;
  $(root, 'pg-optimizer').value = s.optimizer;
  setSelect($(root, 'pg-lr'), s.lr);
  $(root, 'pg-regularization').value = s.regularization;
  setSelect($(root, 'pg-reg-rate'), s.reg_rate);
}

/** A range's value beside its label. */
export function showValue(el) {
  const out = el.closest('.pgp-field') && el.closest('.pgp-field').querySelector('output');
  if (out) out.textContent = el.id === 'pg-ratio' ? `${el.value}%` : el.value;
}

/** Hidden layers from the two sliders: a new width sets every layer's; a new count keeps the
 *  layers there were (a link may give them different widths) and adds layers of the shown width. */
function hiddenOf(layers, neurons, hidden) {
  if (hidden.length && neurons !== hidden[0]) return Array(layers).fill(neurons);
  return Array.from({ length: layers }, (_, l) => (l < hidden.length ? hidden[l] : neurons));
}

/** The settings the controls show, on top of `current` (its seeds and own points carry over).
 *  A new data set is the caller's (suggested settings); this reads the rest. */
export function readControls(root, current) {
  const n = (id) => Number($(root, id).value);
  const layers = n('pg-layers');
  const neurons = n('pg-neurons');
  const features = [...root.querySelectorAll('#pg-features .pgp-check:not([hidden]) input:checked')].map((i) => i.value);
  return { ...current, classes: n('pg-classes'), noise: n('pg-noise'), points: n('pg-points'),
    train_ratio: n('pg-ratio') / 100, features: features.length ? features : [...current.features],
    hidden: hiddenOf(layers, neurons, current.hidden), activation: $(root, 'pg-activation').value,
    regularization: $(root, 'pg-regularization').value, reg_rate: n('pg-reg-rate'),
    optimizer: $(root, 'pg-optimizer').value, lr: n('pg-lr'), batch_size: n('pg-batch'), steps_per_frame: n('pg-speed') };
}
