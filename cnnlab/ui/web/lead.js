// The teacher leads, the phones follow (the server's side: cnnlab/server/lead.py).
//
// Every page long-polls GET cnnlab/lead (one request held ~25 s, answered at once when the class
// moves) and, while it follows (the default), goes to the class's tab and preset. The teacher's
// page (teacher key, or the laptop itself when the app has no key) posts its moves: the tab it
// opens, a preset it picks, Next and Back through the lesson plan. Nothing here goes through
// Gradio's queue.
//
// Events on window, for the tabs:
//   'cnnlab:preset'        detail {tab, preset, cue}: the class moves to a preset (cancelable).
//                          A tab that shows its presets its own way (the browser Playground)
//                          listens, applies the preset and calls preventDefault(); otherwise the
//                          tab's preset button with a known id (PRESET_SHOW) is clicked, or its
//                          part of the page scrolled into view.
//   'cnnlab:preset-picked' detail {tab, preset}: a tab says a person picked a preset on it; on
//                          the leading page this moves the class there. (Clicks on the buttons in
//                          PRESET_PICK are recognised without it.)
//   'cnnlab:lead'          detail: the class's state, after every answer.
//
// The page's address follows its tab (?tab=inside), and /?tab=ID opens that tab; ?lead shows the
// "Lead the class" button on a device that is not the laptop itself.

const CONFIG = JSON.parse(document.getElementById('cnnlab-lead-config')?.textContent || '{}');
const TABS = CONFIG.tabs || [];
const PRESETS = CONFIG.presets || {};
const LEAD_URL = 'cnnlab/lead';
const STORE = window.sessionStorage;

// How a preset shows on a page that follows: click that button, or scroll to the first of these
// elements that is visible. The Playground's are today's Gradio buttons (cnnlab/ui/playground.py).
export const PRESET_SHOW = {
  playground: {
    regression: { click: '#pg-preset-regression' },
    classification: { click: '#pg-preset-classification' },
    race: { click: '#pg-preset-race' },
  },
  train: {
    run: { scroll: ['#train-status', '#train-loss'] },
    race: { scroll: ['#train-race-plot', '#train-race'] },
    compare: { scroll: ['#runs-section'] },
  },
};

// Clicks that mean "the teacher picked this preset" on the leading page.
export const PRESET_PICK = {
  '#pg-preset-regression': ['playground', 'regression'],
  '#pg-preset-classification': ['playground', 'classification'],
  '#pg-preset-race': ['playground', 'race'],
  '#train-start': ['train', 'run'],
  '#train-race': ['train', 'race'],
};

// ------------------------------------------------------------------ words
export function pageLanguage(texts = CONFIG.texts || {}) {
  const saved = (document.cookie.match(/(?:^|; )cnnlab-lang=([^;]+)/) || [])[1];
  const nav = (navigator.language || 'en').toLowerCase().split('-')[0];
  return Object.hasOwn(texts, saved ?? '') ? saved : (Object.hasOwn(texts, nav) ? nav : 'en');
}

const LANG = pageLanguage();

export function say(key, fields = {}, lang = LANG, texts = CONFIG.texts || {}) {
  const template = (texts[lang] || {})[key] ?? (texts.en || {})[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (_, name) => (name in fields ? String(fields[name]) : `{${name}}`));
}

function tabTitle(id) {
  const titles = CONFIG.titles || {};
  return (titles[LANG] || {})[id] || (titles.en || {})[id] || id;
}

function presetTitle(tab, preset) {
  return preset ? say(`preset_${tab}_${preset}`) : '';
}

// ------------------------------------------------------------------ this page
function newId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);                 // (crypto.randomUUID needs HTTPS; classrooms use http)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

const PAGE = STORE.getItem('cnnlab-page') || newId();
STORE.setItem('cnnlab-page', PAGE);
const params = new URLSearchParams(location.search);
let following = STORE.getItem('cnnlab-follow') !== '0';
let leading = STORE.getItem('cnnlab-leading') === '1';
let key = STORE.getItem('cnnlab-key') || '';
let state = null;             // the class's state, as last answered
let appliedVersion = null;    // the version this page last went to
let lastCue = null;           // the preset cue this page last applied
let poller = null;            // the AbortController of the poll in flight

// ------------------------------------------------------------------ Gradio's tabs
// Gradio 6 draws a tab bar (button[role=tab][data-tab-id]) for the tabs that fit and a "..."
// menu (.overflow-dropdown) for the rest; the selected tab is always in the bar. Menu items carry
// only their label, so a tab in the menu is found by its label in the bar's hidden measuring
// copy (.tab-container.visually-hidden, one button per tab in order).
function tabWrapper() {
  return document.querySelector('#lesson-tabs > .tab-wrapper');
}

export function currentTab() {
  const b = tabWrapper()?.querySelector('[role=tablist] button[role=tab][aria-selected=true]');
  return b ? b.dataset.tabId : null;
}

export function selectTab(id) {
  const wrap = tabWrapper();
  if (!wrap || !TABS.includes(id)) return false;
  if (currentTab() === id) return true;
  const bar = [...wrap.querySelectorAll('[role=tablist] button[role=tab]')].find((b) => b.dataset.tabId === id);
  if (bar) {
    bar.click();
    return true;
  }
  const label = wrap.querySelectorAll('.tab-container.visually-hidden button')[TABS.indexOf(id)]?.textContent.trim();
  const item = [...wrap.querySelectorAll('.overflow-dropdown button')].find((b) => b.textContent.trim() === label);
  if (item) {
    item.click();
    return true;
  }
  return false;
}

function whenReady(test, { every = 100, within = 20000 } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const look = () => {
      const found = test();
      if (found || Date.now() - started > within) resolve(found || null);
      else setTimeout(look, every);
    };
    look();
  });
}

function visible(el) {
  return el && el.offsetParent !== null;
}

// ------------------------------------------------------------------ presets
let applyingPreset = false;

async function showPreset(tab, preset, cue) {
  const event = new CustomEvent('cnnlab:preset', { detail: { tab, preset, cue }, cancelable: true });
  window.dispatchEvent(event);
  if (event.defaultPrevented) return;
  const how = PRESET_SHOW[tab]?.[preset];
  if (!how) return;
  if (how.click) {
    const button = await whenReady(() => {
      const b = document.querySelector(how.click);
      return visible(b) ? b : null;
    }, { within: 10000 });
    if (button && currentTab() === tab) {
      applyingPreset = true;
      try { button.click(); } finally { applyingPreset = false; }
    }
  } else {
    const target = await whenReady(() => how.scroll.map((s) => document.querySelector(s)).find(visible), { within: 10000 });
    if (target && currentTab() === tab) target.scrollIntoView({ behavior: 'smooth', block: 'start' });
  }
}

// ------------------------------------------------------------------ going where the class is
async function goWhereTheClassIs(s, force = false) {
  if (!s || !s.leading || !s.tab) return;
  if (!(following || leading)) return;
  if (s.version === appliedVersion && !force) return;
  appliedVersion = s.version;
  const moved = currentTab() !== s.tab;
  if (moved) {
    await whenReady(() => selectTab(s.tab) && currentTab() === s.tab, { within: 5000 });
    if (!leading) window.scrollTo({ top: 0 });
  }
  if (s.preset && s.cue !== lastCue) {
    lastCue = s.cue;
    showPreset(s.tab, s.preset, s.cue);
  } else {
    lastCue = s.cue;
  }
}

// ------------------------------------------------------------------ talking to the laptop
function query(extra = {}) {
  const q = new URLSearchParams({ id: PAGE, follow: following ? '1' : '0', lang: LANG, ...extra });
  if (leading) q.set('role', 'lead');
  return q.toString();
}

function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (key) h['X-Cnnlab-Key'] = key;
  return h;
}

/** Who this page asks as: a reply asked for as a student lacks what the teacher sees. */
const whoAsks = () => (leading ? `lead:${key}` : 'follow');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function pollForever() {
  let failures = 0;
  for (;;) {
    poller = new AbortController();
    const since = state ? state.version : -1;
    const askedAs = whoAsks();
    try {
      const r = await fetch(`${LEAD_URL}?${query({ since })}`, { headers: headers(), cache: 'no-store', signal: poller.signal });
      if (!r.ok) throw new Error(`lead: HTTP ${r.status}`);
      const s = await r.json();
      failures = 0;
      // asked before this page began (or stopped) leading: a student's answer, without the notes
      if (askedAs !== whoAsks()) continue;
      received(s);
    } catch (err) {
      if (err.name === 'AbortError') continue;       // asked again at once (follow toggled, page woke up)
      failures += 1;
      offline = failures >= 2;
      render();
      await sleep(Math.min(15000, 1000 * 2 ** Math.min(failures, 4)) * (0.5 + Math.random()));
    }
  }
}

function askAgainNow() {
  poller?.abort();
}

function received(s) {
  const first = state === null;
  state = s;
  offline = false;
  render();
  window.dispatchEvent(new CustomEvent('cnnlab:lead', { detail: s }));
  if (first && leading && !s.leading) claim();     // the teacher reloaded, or the laptop restarted the app
  else goWhereTheClassIs(s, first);
}

async function post(body) {
  const r = await fetch(`${LEAD_URL}?${query()}`, { method: 'POST', headers: headers(), body: JSON.stringify(body) });
  let answer = {};
  try { answer = await r.json(); } catch (e) { /* no body */ }
  if (r.status === 403 && leading) {              // the key no longer opens (the app restarted with another)
    leading = false;
    key = '';
    STORE.removeItem('cnnlab-leading');
    STORE.removeItem('cnnlab-key');
  }
  if (!r.ok) throw new Error(answer.error || `HTTP ${r.status}`);
  return answer;
}

async function move(body, { own = false } = {}) {
  try {
    const s = await post(body);
    if (own) {                                  // this page is already there: nothing to apply
      appliedVersion = s.version;
      lastCue = s.cue;
    }
    received(s);
  } catch (err) {
    showError(err.message);
  }
}

// ------------------------------------------------------------------ the teacher's moves
function watchTheTeacher() {
  let shown = currentTab();
  const changed = () => {
    const now = currentTab();
    if (!now || now === shown) return;
    shown = now;
    addressFor(now);
    if (leading && state && state.leading && now !== state.tab) move({ tab: now }, { own: true });
  };
  new MutationObserver(changed).observe(document.getElementById('lesson-tabs'),
    { subtree: true, attributes: true, attributeFilter: ['aria-selected'], childList: true });
  document.addEventListener('click', (e) => {
    if (!leading || applyingPreset || !e.isTrusted) return;
    for (const [selector, [tab, preset]] of Object.entries(PRESET_PICK)) {
      if (e.target.closest?.(selector)) {
        move({ tab, preset }, { own: true });
        return;
      }
    }
  }, true);
  window.addEventListener('cnnlab:preset-picked', (e) => {
    const { tab, preset } = e.detail || {};
    if (leading && tab && preset) move({ tab, preset }, { own: true });
  });
}

// The address bar, the QR code and the join address name this page's tab.
function addressFor(tab) {
  const url = new URL(location.href);
  url.searchParams.set('tab', tab);
  history.replaceState(history.state, '', url);
  const img = document.querySelector('#join-qr img');
  if (img) img.src = `cnnlab/join.png?tab=${encodeURIComponent(tab)}`;
  const text = document.querySelector('.join-url b');
  if (text) {
    text.dataset.base ||= text.textContent.replace(/\/$/, '');
    text.textContent = `${text.dataset.base}/?tab=${tab}`;
  }
}

// ------------------------------------------------------------------ the bar
let bar = null;
let offline = false;
let errorText = '';
let askingKey = false;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

let content = null;
let keyForm = null;

function buildBar() {
  const input = el('input', { type: 'password', autocomplete: 'off', placeholder: say('key_placeholder'),
    'aria-label': say('key_label'), class: 'cl-key-input' });
  keyForm = el('form', { class: 'cl-row cl-key', hidden: '', onsubmit: (e) => { e.preventDefault(); key = input.value.trim(); claim(); } },
    el('label', {}, say('key_label'), ' ', input),
    el('button', { type: 'submit', class: 'cl-primary' }, say('start')),
    el('button', { type: 'button', onclick: () => { askingKey = false; errorText = ''; render(); } }, say('cancel')));
  content = el('div', { class: 'cl-content' });
  bar = el('div', { id: 'cnnlab-lead', class: 'cl-bar', role: 'region', 'aria-live': 'polite', hidden: '' }, keyForm, content);
  document.getElementById('lesson-tabs').before(bar);
  document.addEventListener('click', (e) => {
    if (e.target.closest?.('#lead-toggle')) startLeading();
  });
}

function showError(text) {
  errorText = text;
  render();
}

async function startLeading() {
  if (leading) return;
  if (CONFIG.key && !key) {
    askingKey = true;
    render();
    keyForm.querySelector('input').focus();
    return;
  }
  await claim();
}

async function claim() {
  const wasLeading = leading;
  leading = true;
  const here = currentTab();
  try {
    const s = await post(state && state.plan ? { leading: true } : { leading: true, tab: here });
    STORE.setItem('cnnlab-leading', '1');
    if (key) STORE.setItem('cnnlab-key', key);
    askingKey = false;
    errorText = '';
    received(s);
    goWhereTheClassIs(s, true);
    askAgainNow();
  } catch (err) {
    leading = wasLeading;
    key = STORE.getItem('cnnlab-key') || '';
    askingKey = Boolean(CONFIG.key);
    showError(err.message);
  }
}

async function stopLeading() {
  await move({ leading: false });
  leading = false;
  STORE.removeItem('cnnlab-leading');
  render();
  askAgainNow();
}

function toggleFollow() {
  following = !following;
  STORE.setItem('cnnlab-follow', following ? '1' : '0');
  if (following && state) goWhereTheClassIs(state, true);
  render();
  askAgainNow();
}

function render() {
  if (!bar) return;
  const s = state;
  const plan = s && s.plan;
  const out = [];
  bar.dataset.role = leading ? 'teacher' : 'student';
  const show = askingKey || leading || Boolean(s && s.leading) || Boolean(errorText);
  bar.hidden = !show;
  keyForm.hidden = !askingKey;
  document.body.classList.toggle('cl-leading', leading);

  if (leading && s) {
    const counts = s.pages !== undefined ? say('count', { following: s.following, pages: s.pages }) : '';
    out.push(el('div', { class: 'cl-row' },
      el('strong', { class: 'cl-who' }, say('leading')),
      el('span', { class: 'cl-count' }, counts),
      el('button', { type: 'button', class: 'cl-stop', onclick: stopLeading }, say('stop_leading'))));
    if (plan) {
      const step = plan.step_tab ? `${tabTitle(plan.step_tab)}${plan.step_preset ? ' · ' + presetTitle(plan.step_tab, plan.step_preset) : ''}` : '';
      out.push(el('div', { class: 'cl-row cl-plan' },
        el('button', { type: 'button', class: 'cl-back', disabled: plan.step <= 0 ? '' : null,
          onclick: () => move({ step: plan.step - 1 }) }, '‹ ', say('back')),
        el('span', { class: 'cl-step' }, say('step', { n: plan.step + 1, total: plan.steps })),
        el('span', { class: 'cl-step-what' }, step, plan.on_step ? '' : ` (${say('off_step')})`),
        el('button', { type: 'button', class: 'cl-next cl-primary', disabled: plan.step >= plan.steps - 1 ? '' : null,
          onclick: () => move({ step: plan.step + 1 }) }, say('next'), ' ›')));
    }
    const tab = currentTab() || s.tab;
    if (PRESETS[tab]?.length) {
      out.push(el('div', { class: 'cl-row cl-presets' }, el('span', {}, say('show')),
        ...PRESETS[tab].map((p) => el('button', { type: 'button', class: s.tab === tab && s.preset === p ? 'cl-chip cl-on' : 'cl-chip',
          onclick: () => move({ tab, preset: p }) }, presetTitle(tab, p)))));
    }
    if (plan && plan.say) out.push(el('p', { class: 'cl-say cl-echo' }, plan.say));
    if (plan && plan.notes) {
      const notes = el('details', { class: 'cl-notes' }, el('summary', {}, say('notes')), el('p', {}, plan.notes));
      if (STORE.getItem('cnnlab-notes') === '1') notes.open = true;
      notes.addEventListener('toggle', () => STORE.setItem('cnnlab-notes', notes.open ? '1' : '0'));
      out.push(notes);
    }
  } else if (s && s.leading) {
    const line = el('div', { class: 'cl-row' });
    if (following) {
      if (plan && plan.on_step) line.append(el('span', { class: 'cl-step' }, say('step', { n: plan.step + 1, total: plan.steps })));
      line.append(plan && plan.say ? el('span', { class: 'cl-say cl-long' }, plan.say) : el('span', { class: 'cl-say' }, say('following')));
    } else {
      line.append(el('span', { class: 'cl-say cl-quiet' }, say('not_following')));
    }
    line.append(el('button', { type: 'button', class: following ? 'cl-follow cl-on' : 'cl-follow cl-primary',
      'aria-pressed': following ? 'true' : 'false', onclick: toggleFollow },
      following ? say('stop_following') : say('follow')));
    out.push(line);
  }
  if (errorText) out.push(el('p', { class: 'cl-error', role: 'alert' }, errorText));
  if (offline && show) out.push(el('p', { class: 'cl-error' }, say('offline')));
  content.replaceChildren(...out);
}

// ------------------------------------------------------------------ start
async function start() {
  const ready = await whenReady(() => currentTab());
  if (!ready) return;                             // not cnnlab's page (no tabs drawn)
  const canLead = ['127.0.0.1', 'localhost', '[::1]'].includes(location.hostname) || params.has('lead') || leading;
  document.body.classList.toggle('cl-can-lead', canLead);
  buildBar();
  watchTheTeacher();
  const asked = params.get('tab');
  if (asked && TABS.includes(asked)) await whenReady(() => selectTab(asked) && currentTab() === asked, { within: 5000 });
  addressFor(currentTab());
  if (params.has('lead') && !leading) startLeading();
  document.addEventListener('visibilitychange', () => { if (!document.hidden) askAgainNow(); });
  window.addEventListener('pagehide', () => navigator.sendBeacon?.(`${LEAD_URL}/bye?id=${PAGE}`));
  render();
  pollForever();
}

start();
