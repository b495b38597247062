"""How the Inside tab looks and what its page-side code does: the CSS of its HTML blocks and the
two small scripts behind clicking a map and keeping the keyboard on it. (Projector mode's larger
maps live with the rest of projector mode, in ``cnnlab.ui.theme.PROJECTOR_CSS``; sizes here are in
em, so its larger font size on ``.ins`` scales all the tab's text.)"""
from __future__ import annotations

from string import Template

from ...core.plots import RIGHT
from ...lessons.inside import PALETTE

CSS = Template("""
.ins {font-size: 1rem; line-height: 1.35; max-width: 100%; overflow-wrap: anywhere}
.ins * {box-sizing: border-box}
.ins-stage {border: 1px solid var(--border-color-primary, #ddd); border-radius: 10px; padding: 10px 12px;
  margin: 0 0 6px 0; background: var(--block-background-fill, #fff)}
.ins-arrow {text-align: center; color: var(--body-text-color-subdued, #777); line-height: 1; margin: 0 0 6px}
.ins-head {display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px}
.ins-head b {font-size: 1.1em}
.ins-shape {font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 700; font-size: 1.05em;
  background: var(--background-fill-secondary, #f3f4f6); padding: 1px 6px; border-radius: 6px}
.ins-params {color: var(--body-text-color-subdued, #666); font-size: 0.9em}
.ins-how {color: var(--body-text-color-subdued, #555); font-size: 0.88em; margin: 2px 0 6px}
.ins-maps {display: flex; flex-wrap: wrap; gap: 4px}
.ins-map, .ins-tile {padding: 0; margin: 0; border: 1px solid #bbb; border-radius: 3px;
  width: calc(var(--s) * var(--zoom, 1)); height: calc(var(--s) * var(--zoom, 1));
  background-image: var(--sprite); background-repeat: no-repeat; image-rendering: pixelated;
  background-size: var(--w) 100%; background-position: calc(var(--i) / var(--n) * 100%) 0}
.ins-map {cursor: pointer; touch-action: manipulation}
.ins-tile {display: block; margin: 0 auto}            /* also inside a template's inline cell */
.ins-map:hover {outline: 2px solid $accent}
.ins-map:focus-visible, .ins-map[aria-pressed="true"] {outline: 3px solid $accent; outline-offset: 1px}
.ins-pic {image-rendering: pixelated; border: 1px solid #999; border-radius: 4px; display: block;
  max-width: 100%; height: auto}
.ins-vector {image-rendering: pixelated; border: 1px solid #bbb; display: block; max-width: 100%; height: auto}
.ins-bars {display: grid; grid-template-columns: auto 1fr auto; gap: 3px 8px; align-items: center;
  max-width: 460px}
.ins-bar {height: 0.9em; background: $positive; border-radius: 3px; min-width: 1px}
.ins-bars .top {font-weight: 800}
.ins-says {font-size: 1.15em; margin: 4px 0}
.ins-note {border: 1px dashed var(--border-color-primary, #ccc); border-radius: 8px; padding: 10px 12px;
  color: var(--body-text-color-subdued, #555); margin: 0 0 8px}
.ins-cells {display: flex; flex-wrap: wrap; gap: 4px; margin: 0 0 8px}
.ins-cell {text-align: center; font-size: 0.8em}
.ins-cell .v {display: block; min-width: 2.6em; padding: 4px 2px; border: 1px solid #bbb; border-radius: 4px;
  font-family: ui-monospace, Menlo, Consolas, monospace}
.ins-detail h3 {margin: 0 0 6px; font-size: 1.15em}
.ins-figs {display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start}
.ins-fig {margin: 0; flex: 1 1 140px; max-width: 240px}
.ins-fig figcaption {font-size: 0.85em; color: var(--body-text-color-subdued, #555)}
.ins-big {position: relative; width: 100%; aspect-ratio: 1 / 1; cursor: crosshair; touch-action: manipulation;
  border: 1px solid #888; border-radius: 4px; overflow: hidden}
.ins-big:focus-visible {outline: 3px solid $accent; outline-offset: 2px}
.ins-big img, .ins-frame img {width: 100%; height: 100%; image-rendering: pixelated; display: block}
.ins-frame {position: relative; width: 100%; aspect-ratio: 1 / 1; border: 1px solid #888; border-radius: 4px;
  overflow: hidden}
.ins-mark {position: absolute; border: 3px solid #000; outline: 2px solid #fff; pointer-events: none}
.ins-table-wrap {max-width: 100%; overflow-x: auto}
.ins-table {border-collapse: collapse; margin: 6px 0; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 0.78em}
.ins-table td {border: 1px solid #bbb; padding: 2px 3px; text-align: right; line-height: 1.15}
.ins-table td .w {display: block; color: #555}
.ins-table td.pad {color: #999}
.ins-sum {font-size: 1.05em; margin: 6px 0}
.ins-partials {display: flex; flex-wrap: wrap; gap: 2px 10px; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 0.82em}
.ins-filter {display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 0 0 8px}
.ins-filter .lab {min-width: 4.5em; font-size: 0.9em}
.ins-filter img {width: 60px; height: 60px; image-rendering: pixelated; border: 1px solid #bbb; border-radius: 3px}
.ins-filter img.k {outline: 2px solid $accent}
.ins-live-filters {display: flex; flex-wrap: wrap; gap: 4px}
@media (max-width: 520px) {.ins-filter {gap: 4px} .ins-filter .lab {flex-basis: 100%}
  .ins-filter img {width: 38px; height: 38px} .ins-fig {flex: 0 0 calc(50% - 5px)}}
""").substitute(accent=RIGHT, positive="#{:02x}{:02x}{:02x}".format(*PALETTE[-1]))

# The picker: a component that shows nothing; its value is the opened map "stage:channel:row:col".
# A click (or Enter) on a map sets "stage:channel:-1:-1" (the server picks the strongest pixel);
# a click or an arrow key on the large map sets the pixel. Each new value fires .change once.
PICK_JS = """
const root = () => document.querySelector('#inside-tab') || document;
function send(v) { if (props.value !== v) { props.value = v; } }
document.addEventListener('click', (e) => {
  const btn = e.target.closest && e.target.closest('#inside-layers .ins-map');
  if (btn) {
    root().querySelectorAll('#inside-layers .ins-map[aria-pressed]').forEach(b => b.removeAttribute('aria-pressed'));
    btn.setAttribute('aria-pressed', 'true');
    send(btn.parentElement.dataset.s + ':' + btn.dataset.p + ':-1:-1');
    const detail = document.querySelector('#inside-detail');
    if (detail) { const r = detail.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 80) detail.scrollIntoView({behavior: 'smooth', block: 'start'}); }
    return;
  }
  const big = e.target.closest && e.target.closest('#inside-detail .ins-big');
  if (big) {
    const r = big.getBoundingClientRect();
    const rows = +big.dataset.rows, cols = +big.dataset.cols;
    const row = Math.min(rows - 1, Math.max(0, Math.floor((e.clientY - r.top) / r.height * rows)));
    const col = Math.min(cols - 1, Math.max(0, Math.floor((e.clientX - r.left) / r.width * cols)));
    send(big.dataset.pick + ':' + row + ':' + col);
  }
});
document.addEventListener('keydown', (e) => {
  const big = e.target.closest && e.target.closest('#inside-detail .ins-big');
  if (!big) return;
  const moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
  const m = moves[e.key]; if (!m) return;
  e.preventDefault();
  const rows = +big.dataset.rows, cols = +big.dataset.cols;
  const row = Math.min(rows - 1, Math.max(0, +big.dataset.row + m[0]));
  const col = Math.min(cols - 1, Math.max(0, +big.dataset.col + m[1]));
  send(big.dataset.pick + ':' + row + ':' + col);
});
watch('value', () => {});
"""
# After the detail re-renders, keep the keyboard on the large map (arrow keys keep working).
DETAIL_JS = """
let wasFocused = false;
element.addEventListener('focusin', (e) => { wasFocused = !!(e.target.closest && e.target.closest('.ins-big')); });
element.addEventListener('focusout', () => { setTimeout(() => {
  if (!element.contains(document.activeElement)) wasFocused = false; }, 0); });
watch('value', () => { if (wasFocused) { const b = element.querySelector('.ins-big'); if (b) b.focus(); } });
"""


# The browser's live walk (cnnlab/ui/web/walk.js): a layer's maps in one canvas, enlarged pixel
# for pixel; a dense layer's numbers as rows of coloured cells (one canvas, up to 64 a row).
WALK_CSS = """
.wl-maps {display: block; width: 100%; max-width: 640px; image-rendering: pixelated; cursor: pointer;
  touch-action: manipulation; border: 1px solid #bbb}
.wl-vec {display: block; width: 100%; image-rendering: pixelated; border: 1px solid #bbb}
.wl-big, .wl-kernel {display: block; width: 100%; aspect-ratio: 1 / 1; image-rendering: pixelated;
  border: 1px solid #888; border-radius: 4px; cursor: crosshair}
.wl-detail:empty {display: none}
"""
