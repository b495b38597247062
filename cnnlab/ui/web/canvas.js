// The drawing canvas's page-side code (cnnlab/ui/canvas.py hands this file to Gradio as the
// gr.HTML's js_on_load: the body of a function of element, trigger, props, server, upload, watch).
// It is not a module on purpose: the canvas must draw and reach the server even where the page's
// modules cannot load (an old browser, a proxy that drops /cnnlab/web).
//
// A round black pen on white paper, ready at once; pointer events (mouse, pen and touch alike; the
// page does not scroll while a finger draws); Undo and Clear.
//
// Two ways to answer a drawing:
// - in this browser: props.live names a module under /cnnlab/web (draw.js, inside.js) that is
//   imported here. Its attach(element, options, canvas) returns { frame(since), server() }:
//   frame() is called once per animation frame while the drawing changes (the module reads the
//   canvas, runs the network and draws its views: nothing goes to the server); server() says
//   whether the server must answer this drawing too (no model in this browser yet, a model the
//   browser cannot run, saliency asked for).
// - on the server: when a stroke ends, the value becomes the drawing as a PNG data URL (Gradio
//   fires .change: free, nothing listens to it on the server) and, when the server must answer,
//   the canvas fires .input: one queue request per stroke (the API's /predict_drawing).
// If the module cannot load, every stroke goes the server's way, as before.
const canvas = element.querySelector('.cl-canvas');
const pen = canvas.getContext('2d', { willReadFrequently: true });
const size = canvas.width;
const width = Number(props.pen) || 22;
let strokes = [];          // each stroke: [[x, y], ...] in canvas pixels
let base = null;           // an image set from Python (drawn under the strokes)
let live = null;           // the stroke being drawn: {id, pts}
let sent = props.value || '';
let engine = null;         // the module's { frame, server } once it has loaded
let pending = null;        // timeStamp of the oldest change waiting for the next frame's answer

function tools() {
  const empty = strokes.length === 0 && !base;
  element.dataset.empty = empty ? '1' : '0';
  element.querySelectorAll('.cl-undo, .cl-clear').forEach((b) => { b.disabled = empty; });
}
function setPen() {
  pen.strokeStyle = '#000'; pen.fillStyle = '#000'; pen.lineWidth = width;
  pen.lineCap = 'round'; pen.lineJoin = 'round';
}
function dot(p) { setPen(); pen.beginPath(); pen.arc(p[0], p[1], width / 2, 0, 2 * Math.PI); pen.fill(); }
function segment(a, b) { setPen(); pen.beginPath(); pen.moveTo(a[0], a[1]); pen.lineTo(b[0], b[1]); pen.stroke(); }
function paint(s) {
  if (s.length === 1) { dot(s[0]); return; }
  setPen(); pen.beginPath(); pen.moveTo(s[0][0], s[0][1]);
  for (let i = 1; i < s.length; i++) pen.lineTo(s[i][0], s[i][1]);
  pen.stroke();
}
function redraw() {
  pen.fillStyle = '#fff'; pen.fillRect(0, 0, size, size);
  if (base) pen.drawImage(base, 0, 0, size, size);
  strokes.forEach(paint);
  tools();
}
// The browser's answer, for the drawing as it is: at most one per animation frame. The first
// change of a frame is answered at once (the answer follows the pen with no wait); changes that
// come while this frame already has its answer (a burst of pointer events, or events that queued
// while a slow phone was computing) wait for the next frame and get one answer for all of them.
let answered = false;      // this animation frame has had its answer
function run(since) {
  try { engine.frame(since); } catch (err) { console.error('cnnlab: the browser could not answer', err); }
}
function nextFrame() {
  if (pending === null) { answered = false; return; }
  const from = pending;
  pending = null;
  run(from);
  requestAnimationFrame(nextFrame);
}
function changed(since) {
  if (!engine) return;
  if (!answered) { answered = true; run(since); requestAnimationFrame(nextFrame); return; }
  pending = pending === null ? since : Math.min(pending, since);
}
function empty() { return !(strokes.length || base); }
// Where the ink can be, [x, y, w, h] in canvas pixels (null: nowhere): the strokes' points widened
// by the pen and two pixels of anti-aliasing, the whole canvas under an image from Python. The
// module reads only this part of the canvas (what lies outside is paper: the answer is the same).
function inkArea() {
  if (base) return [0, 0, size, size];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const s of strokes) {
    for (const p of s) {
      if (p[0] < x0) x0 = p[0]; if (p[0] > x1) x1 = p[0];
      if (p[1] < y0) y0 = p[1]; if (p[1] > y1) y1 = p[1];
    }
  }
  const r = width / 2 + 2;
  const ax = Math.max(0, Math.floor(x0 - r)), ay = Math.max(0, Math.floor(y0 - r));
  const bx = Math.min(size, Math.ceil(x1 + r)), by = Math.min(size, Math.ceil(y1 + r));
  return bx > ax && by > ay ? [ax, ay, bx - ax, by - ay] : null;
}
function send(ask = true) {
  sent = empty() ? '' : canvas.toDataURL('image/png');
  props.value = sent;        // Gradio fires .change (the drawing's current value, for other tabs)
  if (ask && (!engine || engine.server())) trigger('input');     // the server's answer
}
function at(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
}
canvas.addEventListener('pointerdown', (e) => {
  if (e.pointerType === 'mouse' && e.button !== 0) return;
  if (live && !e.isPrimary) return;          // a second finger while one draws: ignored
  if (live) send();                          // a new first touch: the old stroke's end was lost
  e.preventDefault();
  try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events */ }
  live = { id: e.pointerId, pts: [at(e)] };
  strokes.push(live.pts);
  dot(live.pts[0]);
  tools();
  changed(e.timeStamp);
});
canvas.addEventListener('pointermove', (e) => {
  if (!live || e.pointerId !== live.id) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const ev of (events.length ? events : [e])) {
    const p = at(ev);
    segment(live.pts[live.pts.length - 1], p);
    live.pts.push(p);
  }
  changed(e.timeStamp);
});
function finish(e) {
  if (!live || e.pointerId !== live.id) return;
  live = null;
  send();
}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', finish);
canvas.addEventListener('lostpointercapture', finish);
canvas.addEventListener('contextmenu', (e) => e.preventDefault());

function undo() {
  live = null;                               // never let a stroke whose end was lost block the tools
  if (strokes.length) strokes.pop(); else base = null;
  redraw(); send(); changed(performance.now());
}
function clear() {
  live = null;
  strokes = []; base = null;
  redraw(); send(); changed(performance.now());
}
// Undo and Clear act when the finger, pen or mouse is lifted over them (pointerup), not on the
// click the browser makes from a tap: after a quick stroke Chrome takes a tap that follows within
// a fraction of a second for "stop the fling" and makes no click, so a student's Clear was lost.
// Pointer events always arrive. A click without a pointer (Enter or Space on the focused button,
// detail 0) still works; the click that follows a pointerup (detail >= 1) is ignored.
let pressed = null;        // the Undo/Clear button a pointer went down on
function act(button) {
  if (!button || button.disabled) return;
  if (button.classList.contains('cl-undo')) undo(); else clear();
}
element.addEventListener('pointerdown', (e) => {
  const button = e.target.closest('.cl-undo, .cl-clear');
  pressed = button && (e.pointerType !== 'mouse' || e.button === 0) ? button : null;
});
element.addEventListener('pointerup', (e) => {
  const button = pressed;
  pressed = null;
  if (!button || e.target.closest('.cl-undo, .cl-clear') !== button) return;
  const r = button.getBoundingClientRect();         // a finger that slid off the button: no action
  if (e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom) act(button);
});
element.addEventListener('pointercancel', () => { pressed = null; });
element.addEventListener('click', (e) => {
  if (e.detail === 0) act(e.target.closest('.cl-undo, .cl-clear'));
});
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 'z' && element.offsetParent !== null
      && !['INPUT', 'TEXTAREA'].includes(document.activeElement && document.activeElement.tagName)) {
    e.preventDefault(); undo();
  }
});

// A new value from Python: None clears the canvas, an image replaces the drawing. Either way the
// answer follows (the browser's, or one server request when the server answers).
function fromPython(value) {
  if (!value) { redraw(); changed(performance.now()); if (!engine || engine.server()) trigger('input'); return; }
  const img = new Image();
  img.onload = () => {
    base = img; redraw(); changed(performance.now());
    if (!engine || engine.server()) trigger('input');
  };
  img.src = value;
}
watch('value', () => {
  const value = props.value || '';
  if (value === sent) return;
  sent = value; strokes = []; live = null; base = null;
  fromPython(value);
});
redraw();
if (sent) { const img = new Image(); img.onload = () => { base = img; redraw(); changed(performance.now()); }; img.src = sent; }

// The module that answers in this browser (see the top). Any failure leaves the server's way.
if (props.live && props.live.module) {
  try {
    const root = (window.gradio_config && window.gradio_config.root) || (location.origin + location.pathname);
    const url = new URL('cnnlab/web/' + props.live.module, root.replace(/\/?$/, '/')).href;
    import(url).then((m) => {
      engine = m.attach(element, props.live, canvas, { empty, inkArea, ask: () => trigger('input') });
      if (!empty()) changed(performance.now());
    }).catch((err) => console.info('cnnlab: answers come from the server', err));
  } catch (err) {
    console.info('cnnlab: answers come from the server', err);
  }
}
