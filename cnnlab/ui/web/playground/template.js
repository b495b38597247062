// The Playground tab's HTML: presets, Play / Step / Reset, the picture, the curves, the neurons,
// own points, the link, the weights file, the code, the GIF, the controls and the race.
// Words come from `say` (the reader's language); page.js wires it.

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

/** Markdown's **bold** and `code` of an i18n text, as HTML (the text escaped first). */
function inline(s) {
  return esc(s).replace(/\*\*(.+?)\*\*/g, '<b>$1</b>').replace(/`(.+?)`/g, '<code>$1</code>');
}

function view(id, say, label) {
  return `<div class="pg" id="${id}" data-kind="" data-step="0" aria-label="${esc(label)}">
    <div class="pg-stats" role="status"></div>
    <canvas class="pg-main" width="400" height="400" role="img" aria-label="${esc(say('view.aria_main'))}"></canvas>
    <div class="pg-legend"></div>
    <div class="pg-curves-title"></div>
    <canvas class="pg-curves" width="400" height="160" role="img" aria-label="${esc(say('view.aria_curves'))}"></canvas>
    ${id === 'pg-view' ? '<div class="pg-neurons-title"></div><div class="pg-neurons"></div>' : ''}
  </div>`;
}

export function pageHTML(say, controls, raceCode) {
  const classes = [0, 1, 2, 3].map((k) => `<button type="button" class="pgp-class" data-class="${k}"
    aria-pressed="false">${esc(say('own_class_n', { n: k }))}</button>`).join('');
  return `<div class="pgp">
  <div class="pgp-presets">
    <button type="button" id="pg-preset-regression">${esc(say('preset_regression'))}</button>
    <button type="button" id="pg-preset-classification">${esc(say('preset_classification'))}</button>
    <button type="button" id="pg-preset-race">${esc(say('preset_race'))}</button>
  </div>
  <div class="pgp-main">
    <div class="pgp-left">
      <div class="pgp-buttons">
        <button type="button" id="pg-play" class="pgp-primary" aria-pressed="false">${esc(say('play'))}</button>
        <button type="button" id="pg-step">${esc(say('step'))}</button>
        <button type="button" id="pg-reset" title="${esc(say('reset_title'))}">${esc(say('reset'))}</button>
      </div>
      <div id="pg-notice" class="pgp-notice" role="alert" aria-live="polite"></div>
      ${view('pg-view', say, say('view_label'))}
      <div id="pg-own" class="pgp-own" hidden>
        <p id="pg-own-hint"></p>
        <div id="pg-own-classes" class="pgp-classes">${classes}</div>
        <button type="button" class="pgp-small" id="pg-own-clear">${esc(say('own_clear'))}</button>
        <label class="pgp-field" for="pg-own-csv"><span class="pgp-label">${esc(say('own_csv'))}</span>
          <textarea id="pg-own-csv" rows="4" spellcheck="false" placeholder="-2, -2, 0&#10;2, 2, 1&#10;..."></textarea></label>
        <button type="button" class="pgp-small" id="pg-own-use">${esc(say('own_use'))}</button>
      </div>
      <div class="pgp-tools">
        <button type="button" class="pgp-small" id="pg-link-button">${esc(say('link'))}</button>
        <button type="button" class="pgp-small" id="pg-weights-save">${esc(say('weights_save'))}</button>
        <label class="pgp-small pgp-file">${esc(say('weights_load'))}
          <input type="file" id="pg-weights-file" accept=".json,application/json"></label>
        <button type="button" class="pgp-small" id="pg-gif-button">${esc(say('gif'))}</button>
      </div>
      <input id="pg-link" class="pgp-link" readonly hidden aria-label="${esc(say('link'))}">
      <small class="pgp-note">${esc(say('link_note'))}</small>
      <figure id="pg-gif" class="pgp-gif" hidden><img alt="${esc(say('gif_label'))}">
        <figcaption><a download="playground.gif">${esc(say('gif_download'))}</a></figcaption></figure>
      <details id="pg-code-box" class="pgp-details"><summary>${esc(say('code'))}</summary>
        <p>${inline(say('code_note'))}</p>
        <button type="button" class="pgp-small" id="pg-code-button">${esc(say('code_show'))}</button>
        <pre id="pg-code" class="pgp-code" hidden></pre>
      </details>
    </div>
    <div class="pgp-controls">${controls}</div>
  </div>
  <details id="pg-race-box" class="pgp-details pgp-race"><summary>${esc(say('race_title'))}</summary>
    <p>${inline(say('race_intro'))}</p>
    <div class="pgp-buttons">
      <button type="button" id="pg-race-play" class="pgp-primary">${esc(say('play'))}</button>
      <button type="button" id="pg-race-reset">${esc(say('reset'))}</button>
    </div>
    ${view('pg-race', say, say('race_view_label'))}
    <p class="pg-legend">${esc(say('view.legend_race'))} ${esc(say('view.curves_race'))}</p>
    <details class="pgp-details"><summary>${esc(say('race_code'))}</summary><pre class="pgp-code">${esc(raceCode)}</pre></details>
  </details>
</div>`;
}
