// The Playground tab in the student's browser (issue 27): between Play and Pause the server does
// nothing. Each animation frame trains `steps per frame` steps of the student's own network
// (net.js, on the engine's dense layers and optimizers) and draws the boundary, every neuron's
// map and the curves (view.js). The server is asked only for the PyTorch code of the setting
// and for the GIF of a run (`server.playground_code`, `server.playground_gif`: cnnlab.ui.playground).
//
// mount(element, props, server) builds the tab inside `element` (the gr.HTML of cnnlab.ui.playground);
// props.texts holds every language's words (cnnlab/i18n, section "playground").

import { parameters } from '../engine/dense.js';
import { Playground } from './net.js';
import { Race, RACE_STEPS, RACE_NAMES, RACE_LABELS } from './race.js';
import { DATASETS, OWN_CURVE_VIEW, DOMAIN_2D } from './data.js';
import { PRESETS, DEFAULTS, SettingsError, suggested, toQuery, fromQuery, weightsToJSON, weightsFromJSON,
  OWN_DATASETS, MAX_RUN_STEPS } from './settings.js';
import { drawMain, drawCurves, drawNeurons, drawRace, drawRaceCurves, gifFrame, fromPixels, CLASS_HEX,
  CURVE_COLOURS, RACE_COLOURS } from './view.js';
import { controlsHTML, writeControls, readControls, showValue } from './controls.js';
import { parseCSV, toCSV, OwnDataError } from './owndata.js';
import { pageHTML } from './template.js';

const COOKIE = 'cnnlab-lang';
const MAX_GIF_FRAMES = 60;             // as the server's limit (cnnlab.lessons.playground.gif)
// How much a frame draws, by `level`: the pictures (boundary and neurons) every `every` frames on
// a size x size grid, the curves' evaluation on every point every `record` frames. The steps per
// frame never change: a big network keeps its learning speed and draws less often.
const LEVELS = [{ every: 1, size: 40, record: 4 }, { every: 2, size: 40, record: 8 },
  { every: 3, size: 25, record: 12 }, { every: 4, size: 20, record: 16 }];
const HEAVY_MS = 20;                   // a frame's work above this (smoothed, ms): one level lighter
const LIGHT_MS = 7;                    // below this: one level richer

/** The reader's language: the header's switch (cookie), else the browser's. */
export function readerLanguage(texts) {
  const saved = (document.cookie.match(new RegExp(`(?:^|; )${COOKIE}=([^;]+)`)) || [])[1];
  const nav = (navigator.language || 'en').slice(0, 2).toLowerCase();
  return saved in texts ? saved : (nav in texts ? nav : 'en');
}

/** A template of cnnlab/i18n with Python's format fields: {name}, {n:,}, {loss:.4f}, {acc:.0%}. */
export function format(template, params, lookup) {
  return template.replace(/\{(\w+)(?::([^}]*))?\}/g, (whole, name, spec) => {
    let v = params[name];
    if (v === undefined) return whole;
    if (typeof v === 'string' && v.startsWith('playground.') && lookup(v) !== null) v = lookup(v);
    if (spec === ',') return Number(v).toLocaleString('en');
    const fixed = /^\.(\d+)f$/.exec(spec || '');
    if (fixed) return Number(v).toFixed(Number(fixed[1]));
    const pct = /^\.(\d+)%$/.exec(spec || '');
    if (pct) return `${(100 * Number(v)).toFixed(Number(pct[1]))}%`;
    return String(v);
  });
}

export function mount(element, props, server) {
  const all = props.texts || {};
  const lang = readerLanguage(all);
  const words = { ...(all.en || {}), ...(all[lang] || {}) };
  const lookup = (key) => { const k = key.replace(/^playground\./, ''); return k in words ? words[k] : null; };
  const say = (key, params = {}) => format(lookup(key) ?? key, params, lookup);
  const sentence = (err) => (err && err.key ? say(err.key, err.params) : String(err && err.message || err));

  element.innerHTML = pageHTML(say, controlsHTML(say), props.race_code || '');
  const root = element.querySelector('.pgp');
  const $ = (id) => root.querySelector(`#${id}`);
  const main = root.querySelector('#pg-view canvas.pg-main');
  const curves = root.querySelector('#pg-view canvas.pg-curves');
  const notice = $('pg-notice');

  // ---------------------------------------------------------------- state
  let s = { ...PRESETS.regression };
  let p = null;                       // the student's Playground (null: own data with < 2 points)
  let playing = false;
  let raf = 0;
  let frameNo = 0;
  let cost = 0;                       // a frame's work in ms, smoothed
  let level = 0;                      // how much a frame draws (LEVELS)
  let settled = 0;                    // frames since the level last changed
  let pic = null;
  let gif = { frames: [], every: 1 };
  let ownClass = 0;
  const own = { 'own-class': [], 'own-curve': [] };
  const stats = { frames: 0, steps: 0, pictureFrames: 0, level: 0 };

  function say1(msg, kind = 'info') {
    notice.textContent = msg;
    notice.dataset.kind = kind;
  }

  // ---------------------------------------------------------------- drawing
  function neuronTiles() {
    const box = root.querySelector('.pg-neurons');
    const title = root.querySelector('.pg-neurons-title');
    const hidden = s.hidden;
    const dims = DATASETS[s.dataset].dims;
    box.innerHTML = '';
    box.tiles = [];
    if (!hidden.length) { title.textContent = say('view.no_neurons'); return; }
    title.textContent = say(dims === 1 ? 'neurons_all_1d' : 'neurons_all');
    hidden.forEach((width, l) => {
      const row = document.createElement('div');
      row.className = 'pg-neuron-row';
      const label = document.createElement('span');
      label.className = 'pg-neuron-label';
      label.textContent = say('layer_n', { layer: l + 1 });
      row.appendChild(label);
      const tiles = [];
      for (let j = 0; j < width; j++) {
        const c = document.createElement('canvas');
        c.className = 'pg-neuron';
        c.width = 40; c.height = 40;
        row.appendChild(c);
        tiles.push(c);
      }
      box.appendChild(row);
      box.tiles.push(tiles);
    });
  }

  function fmt(v, d) { return v === null || v === undefined ? '–' : Number(v).toFixed(d); }
  function pct(v) { return v === null || v === undefined ? '–' : `${(100 * v).toFixed(1)}%`; }

  // The numbers under the plot. Their lines are written once (per task and language) and then
  // only the numbers change: rewriting the HTML every frame costs a phone a layout a frame.
  let statsLines = '';
  function drawStats() {
    const el = root.querySelector('#pg-view .pg-stats');
    const view = root.querySelector('#pg-view');
    if (!p) {
      el.innerHTML = `<span class="pg-need">${say('own_need_more')}</span>`;
      statsLines = '';
      view.dataset.step = '0';
      return;
    }
    const classify = p.data.task === 'classification';
    let lines = `${say('view.epoch')} <b class="pg-epoch"></b> · ${say('view.step')} <b class="pg-step"></b><br>` +
      `${say('view.train_loss')} <b class="pg-train-loss"></b> · ${say('view.test_loss')} <b class="pg-test-loss"></b>`;
    if (classify) {
      lines += `<br>${say('view.accuracy')} <b class="pg-acc"></b> · ${say('view.test_accuracy')} <b class="pg-test-acc"></b>`;
    }
    if (statsLines !== lines || !el.querySelector('.pg-epoch')) {
      el.innerHTML = lines;
      statsLines = lines;
    }
    const L = p.last;
    const numbers = { 'pg-epoch': fmt(p.epoch, 1), 'pg-step': String(p.stepCount), 'pg-train-loss': fmt(L.train, 4),
      'pg-test-loss': fmt(L.test, 4) };
    if (classify) Object.assign(numbers, { 'pg-acc': pct(L.trainAcc), 'pg-test-acc': pct(L.testAcc) });
    for (const [cls, text] of Object.entries(numbers)) {
      const b = el.querySelector(`.${cls}`);
      if (b.textContent !== text) b.textContent = text;
    }
    view.dataset.step = String(p.stepCount);
  }

  function kind() {
    const spec = DATASETS[s.dataset];
    return spec.dims === 1 ? 'reg1' : (spec.task === 'classification' ? 'class' : 'reg2');
  }

  function legend() {
    const k = kind();
    root.querySelector('#pg-view').dataset.kind = k;
    root.querySelector('#pg-view .pg-legend').textContent = say(`view.legend_${k}`);
    const keys = [['train', 'key_train'], ['test', 'key_test']].concat(k === 'class' ? [['acc', 'key_acc'], ['accTest', 'key_acc_test']] : []);
    root.querySelector('#pg-view .pg-curves-title').innerHTML = `${say('view.curves')} ` + keys.map(([c, key]) =>
      `<span class="pg-item"><span class="pg-key" style="background:${CURVE_COLOURS[c]}"></span>${say(`view.${key}`)}</span>`).join(' ');
  }

  /** Own points before a network exists: drawn as data with no prediction. */
  function ownData() {
    const rows = own[s.dataset];
    const cls = s.dataset === 'own-class';
    const dims = cls ? 2 : 1;
    return { dims, task: cls ? 'classification' : 'regression', nAll: rows.length, nTrain: rows.length,
      xAll: rows.map((r) => r.slice(0, dims)).flat(), yAll: rows.map((r) => r[dims]),
      view: cls ? [...DOMAIN_2D, ...DOMAIN_2D] : OWN_CURVE_VIEW, targetRange: [0, 1] };
  }

  function drawAll(curvesToo = true) {
    if (!p) {
      drawMain(main, ownData(), null, null);
      curves.getContext('2d').clearRect(0, 0, curves.width, curves.height);
      drawStats();
      return;
    }
    drawPictures();
    if (curvesToo) drawCurvesNow();
    drawStats();
  }

  function drawPictures() {
    pic = p.pictures(LEVELS[level].size);
    drawMain(main, p.data, pic, p.data.task === 'classification' ? p.wrong : null);
    if (root.querySelector('.pg-neurons').tiles) drawNeurons(root.querySelector('.pg-neurons').tiles, pic);
    stats.pictureFrames += 1;
  }

  function drawCurvesNow() {
    drawCurves(curves, p.history, p.data.task === 'classification', say('view.epoch'));
  }

  function keepGifFrame() {
    if (!p) return;
    const L = p.last;
    let caption = say('gif_step', { step: p.stepCount });
    if (L.train !== null && L.train !== undefined) {
      caption = L.trainAcc === null || L.trainAcc === undefined ? say('gif_loss', { step: p.stepCount, loss: L.train })
        : say('gif_accuracy', { step: p.stepCount, loss: L.train, accuracy: L.trainAcc });
    }
    gif.frames.push(gifFrame(main, caption));
    if (gif.frames.length > MAX_GIF_FRAMES) {
      gif.frames = gif.frames.filter((_, i) => i % 2 === 0);
      gif.every *= 2;
    }
  }

  // ---------------------------------------------------------------- the loop
  function setPlaying(on) {
    playing = on && !!p && !p.finished;
    $('pg-play').textContent = say(playing ? 'pause' : 'play');
    $('pg-play').setAttribute('aria-pressed', String(playing));
    cancelAnimationFrame(raf);
    if (playing) raf = requestAnimationFrame(tick);
  }

  function tick() {
    if (!playing || !p) return;
    if (!root.isConnected) { playing = false; return; }
    if (root.offsetParent === null) { raf = requestAnimationFrame(tick); return; }   // another tab is shown
    const t0 = performance.now();
    const how = LEVELS[level];
    // The curves' evaluation (every point) and the pictures fall on different frames once the
    // pictures skip frames, so that no frame carries both (a frame over budget costs a whole one).
    const pictures = frameNo % how.every === 0;
    const record = (frameNo + (how.every > 1 ? 1 : 0)) % how.record === 0;
    const n = p.step(s.steps_per_frame, { record });
    stats.steps += n;
    stats.frames += 1;
    if (pictures) drawPictures();
    if (record) drawCurvesNow();
    if (pictures || record) drawStats();      // the numbers change with the pictures: one layout, not one a frame
    if (pictures && frameNo % (4 * how.record * gif.every) === 0) keepGifFrame();   // the picture just drawn
    frameNo += 1;
    cost = 0.9 * cost + 0.1 * (performance.now() - t0);
    settled += 1;
    if (settled > 30 && cost > HEAVY_MS && level < LEVELS.length - 1) { level += 1; settled = 0; frameNo = 0; }
    else if (settled > 120 && cost < LIGHT_MS && level > 0) { level -= 1; settled = 0; frameNo = 0; }
    stats.level = level;
    if (p.finished) {
      p.record();
      drawAll(true);
      setPlaying(false);
      say1(say('finished', { n: MAX_RUN_STEPS }));
      return;
    }
    raf = requestAnimationFrame(tick);
  }

  // ---------------------------------------------------------------- settings
  const QUERY_KEYS = [...new URLSearchParams(toQuery({ ...DEFAULTS, dataset: 'own-class', own: [[0, 0, 0]] })).keys()];

  function writeAddress() {
    const q = new URLSearchParams(location.search);
    for (const k of QUERY_KEYS) q.delete(k);
    for (const [k, v] of new URLSearchParams(toQuery(s))) q.set(k, v);
    history.replaceState(history.state, '', `${location.pathname}?${q}${location.hash}`);
    const link = $('pg-link');
    if (!link.hidden) link.value = location.href;
  }

  function fresh(next) {
    s = next;
    p = OWN_DATASETS.includes(s.dataset) && (s.own || []).length < 2 ? null : new Playground(s);
    if (p) s = p.settings;
    gif = { frames: [], every: 1 };
    frameNo = 0;
    showAll();
  }

  function showAll() {
    writeControls(root, s, say);
    ownTools();
    legend();
    neuronTiles();
    $('pg-code').hidden = true;
    drawAll(true);
  }

  /** Apply settings: the same network carries on unless its shape changed (Playground.update). */
  function apply(next, { address = true } = {}) {
    try {
      if (p && !(OWN_DATASETS.includes(next.dataset) && (next.own || []).length < 2)) {
        const before = p.settings;
        const what = p.update(next);
        s = p.settings;
        if (what === 'new network' || before.hidden.join() !== s.hidden.join()) { gif = { frames: [], every: 1 }; frameNo = 0; }
        showAll();
      } else {
        fresh(next);
      }
      say1('');
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      say1(sentence(err), 'error');
      writeControls(root, s, say);
    }
    if (address) writeAddress();
  }

  function pickDataset(name) {
    let next;
    if (OWN_DATASETS.includes(name)) {
      const rows = own[name];
      const classes = Math.max(2, ...rows.map((r) => (name === 'own-class' ? r[2] + 1 : 0)));
      next = { ...s, dataset: name, own: rows, classes, noise: 0, train_ratio: 1, batch_size: 10,
        features: name === 'own-curve' ? ['x1'] : ['x1', 'x2'], steps_per_frame: 10, lr: s.lr <= 0.1 ? s.lr : 0.03 };
    } else {
      next = suggested(name, s);
    }
    apply(next);
  }

  // ---------------------------------------------------------------- own points
  function ownTools() {
    const isOwn = OWN_DATASETS.includes(s.dataset);
    $('pg-own').hidden = !isOwn;
    if (!isOwn) return;
    $('pg-own-classes').hidden = s.dataset !== 'own-class';
    $('pg-own-hint').textContent = say(s.dataset === 'own-class' ? 'own_tap_class' : 'own_tap_curve');
    for (const b of root.querySelectorAll('#pg-own-classes button')) b.setAttribute('aria-pressed', String(Number(b.dataset.class) === ownClass));
    main.classList.add('pg-tappable');
  }

  function setOwn(name, rows) {
    own[name] = rows;
    const classes = Math.max(2, ...rows.map((r) => (name === 'own-class' ? r[2] + 1 : 0)));
    apply({ ...s, dataset: name, own: rows, classes, features: name === 'own-curve' ? ['x1']
      : (s.features.some((f) => f.includes('2')) ? s.features : ['x1', 'x2']) });
    $('pg-own-csv').value = toCSV(rows);
  }

  main.addEventListener('pointerdown', (ev) => {
    if (!OWN_DATASETS.includes(s.dataset)) return;
    const box = main.getBoundingClientRect();
    const px = (ev.clientX - box.left) / box.width * main.width;
    const py = (ev.clientY - box.top) / box.height * main.height;
    const view = p ? p.data.view : ownData().view;
    const [u, v] = fromPixels(view, main.width, main.height, px, py);
    const round = (a) => Number(a.toPrecision(4));
    const row = s.dataset === 'own-class' ? [round(u), round(v), ownClass] : [round(u), round(v)];
    if (own[s.dataset].length >= 300) { say1(say('csv_too_many', { most: 300 }), 'error'); return; }
    setOwn(s.dataset, [...own[s.dataset], row]);
  });

  // ---------------------------------------------------------------- buttons
  $('pg-play').addEventListener('click', () => {
    if (!p) return;
    if (!playing && p.finished) { say1(say('finished', { n: MAX_RUN_STEPS })); return; }
    setPlaying(!playing);
  });
  $('pg-step').addEventListener('click', () => {
    if (!p) return;
    setPlaying(false);
    stats.steps += p.step(s.steps_per_frame);
    keepGifFrame();
    drawAll(true);
  });
  $('pg-reset').addEventListener('click', () => {
    setPlaying(false);
    if (p) p.reset(s);
    gif = { frames: [], every: 1 };
    frameNo = 0;
    say1('');
    drawAll(true);
  });
  $('pg-regenerate').addEventListener('click', () => apply({ ...s, data_seed: Math.floor(Math.random() * 2 ** 31) }));

  for (const el of root.querySelectorAll('.pgp-controls input[type=range]')) {
    el.addEventListener('input', () => showValue(el));
  }
  root.querySelector('.pgp-controls').addEventListener('change', (ev) => {
    if (ev.target.id === 'pg-dataset') pickDataset(ev.target.value);
    else apply(readControls(root, s));
  });

  for (const b of root.querySelectorAll('#pg-own-classes button')) {
    b.style.setProperty('--pg-class', CLASS_HEX[Number(b.dataset.class)]);
    b.addEventListener('click', () => { ownClass = Number(b.dataset.class); ownTools(); });
  }
  $('pg-own-clear').addEventListener('click', () => { setPlaying(false); setOwn(s.dataset, []); });
  $('pg-own-use').addEventListener('click', () => {
    try {
      const got = parseCSV($('pg-own-csv').value);
      setPlaying(false);
      own[got.dataset] = got.rows;
      apply({ ...s, dataset: got.dataset, own: got.rows, classes: got.classes, noise: 0, train_ratio: 1,
        batch_size: Math.min(s.batch_size, 32), features: got.dataset === 'own-curve' ? ['x1'] : ['x1', 'x2'] });
    } catch (err) {
      if (!(err instanceof OwnDataError)) throw err;
      say1(sentence(err), 'error');
    }
  });

  // presets, one click each (and from the teacher's lead: window 'cnnlab:preset')
  function preset(name) {
    if (name === 'race') { startRace(); return; }
    if (!PRESETS[name]) return;
    setPlaying(false);
    fresh({ ...PRESETS[name] });
    say1('');
    writeAddress();
  }
  for (const name of ['regression', 'classification', 'race']) $(`pg-preset-${name}`).addEventListener('click', () => preset(name));
  const onPreset = (ev) => {
    const d = ev.detail || {};
    if (d.tab === 'playground' && d.preset) preset(d.preset);
  };
  window.addEventListener('cnnlab:preset', onPreset);

  // ---------------------------------------------------------------- link, weights, code, GIF
  $('pg-link-button').addEventListener('click', async () => {
    writeAddress();
    const link = $('pg-link');
    link.hidden = false;
    link.value = location.href;
    link.select();
    try { await navigator.clipboard.writeText(location.href); say1(say('link_copied')); } catch (e) { /* shown to copy by hand */ }
  });
  $('pg-weights-save').addEventListener('click', () => {
    if (!p) return;
    const blob = new Blob([weightsToJSON(p.net, p.settings)], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'playground-weights.json';
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });
  $('pg-weights-file').addEventListener('change', async (ev) => {
    const file = ev.target.files && ev.target.files[0];
    ev.target.value = '';
    if (!file) return;
    try {
      if (file.size > 2e6) throw new SettingsError('playground.weights_bad_file', { why: `${file.size} bytes` });
      const r = weightsFromJSON(await file.text());
      setPlaying(false);
      if (OWN_DATASETS.includes(r.settings.dataset)) own[r.settings.dataset] = r.settings.own;
      fresh(r.settings);
      parameters(p.net).forEach((w, k) => w.set(r.params[k]));
      p.record();
      drawAll(true);
      writeAddress();
      say1(say('weights_loaded'));
    } catch (err) {
      if (!(err instanceof SettingsError)) throw err;
      say1(sentence(err), 'error');
    }
  });
  $('pg-code-button').addEventListener('click', async () => {
    const pre = $('pg-code');
    const steps = p ? Math.max(100, Math.ceil(p.stepCount / 100) * 100) : 100;
    try {
      const r = await server.playground_code({ settings: s, steps, lang });
      pre.textContent = r.error ? r.error : r.code;
    } catch (err) {
      pre.textContent = say('server_error', { why: String(err && err.message || err) });
    }
    pre.hidden = false;
  });
  $('pg-gif-button').addEventListener('click', async () => {
    const out = $('pg-gif');
    if (gif.frames.length < 2) { say1(say('no_gif'), 'error'); return; }
    say1(say('gif_making'));
    try {
      const r = await server.playground_gif({ frames: gif.frames, lang });
      if (r.error) { say1(r.error, 'error'); return; }
      out.hidden = false;
      out.querySelector('img').src = r.gif;
      out.querySelector('a').href = r.gif;
      say1('');
    } catch (err) {
      say1(say('server_error', { why: String(err && err.message || err) }), 'error');
    }
  });

  // ---------------------------------------------------------------- the race
  let race = null;
  let racing = false;
  const raceMain = root.querySelector('#pg-race canvas.pg-main');
  const raceCurves = root.querySelector('#pg-race canvas.pg-curves');

  function drawRaceAll() {
    drawRace(raceMain, race, race.curves());
    drawRaceCurves(raceCurves, race.losses, RACE_STEPS, say('view.step'));
    const last = Object.fromEntries(RACE_NAMES.map((n) => [n, race.losses[n][race.losses[n].length - 1]]));
    root.querySelector('#pg-race .pg-stats').innerHTML = `${say('view.step')} <b class="pg-step">${race.stepCount}</b> ` +
      `${say('view.of')} ${RACE_STEPS} · ${say('view.epoch')} <b>${race.epoch.toFixed(1)}</b><br>` +
      RACE_NAMES.map((n) => `<span class="pg-item"><span class="pg-key" style="background:${RACE_COLOURS[n]}"></span>` +
        `${RACE_LABELS[n]} <b data-optimizer="${n}">${fmt(last[n], 4)}</b></span>`).join(' ');
    root.querySelector('#pg-race').dataset.step = String(race.stepCount);
  }
  function setRacing(on) {
    racing = on && !race.finished;
    $('pg-race-play').textContent = say(racing ? 'pause' : 'play');
    if (racing) requestAnimationFrame(raceTick);
  }
  function raceTick() {
    if (!racing || !root.isConnected) return;
    if (root.offsetParent !== null) {
      race.step(8);
      drawRaceAll();
    }
    if (race.finished) { setRacing(false); return; }
    requestAnimationFrame(raceTick);
  }
  function startRace() {
    $('pg-race-box').open = true;
    race = new Race(1);
    drawRaceAll();
    setRacing(true);
    $('pg-race-box').scrollIntoView({ block: 'nearest' });
  }
  $('pg-race-play').addEventListener('click', () => {
    if (!race || race.finished) race = new Race(1);
    setRacing(!racing);
  });
  $('pg-race-reset').addEventListener('click', () => { racing = false; race = new Race(1); setRacing(false); drawRaceAll(); });
  race = new Race(1);
  drawRaceAll();

  // ---------------------------------------------------------------- start: the address, else lesson 1
  const fromLink = QUERY_KEYS.some((k) => new URLSearchParams(location.search).has(k));
  if (fromLink) {
    const got = fromQuery(location.search);
    if (OWN_DATASETS.includes(got.settings.dataset)) own[got.settings.dataset] = got.settings.own;
    fresh(got.settings);
    if (got.problems.length) {
      say1(got.problems.map((x) => say('link_problem', { key: x.key, value: x.value, why: sentence(x.error) })).join(' '), 'error');
    }
  } else {
    fresh({ ...PRESETS.regression });
  }

  // for tests and benchmarks (bench/playground_browser.py)
  window.cnnlabPlayground = {
    get p() { return p; }, get settings() { return s; }, stats, get playing() { return playing; },
    get level() { return level; }, get race() { return race; }, get gifFrames() { return gif.frames.length; },
    apply: (next) => apply(next), preset, play: () => setPlaying(true), pause: () => setPlaying(false),
  };
  return () => { setPlaying(false); racing = false; window.removeEventListener('cnnlab:preset', onPreset); };
}
