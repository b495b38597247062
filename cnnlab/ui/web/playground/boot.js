// Runs as the Playground's gr.HTML js_on_load (cnnlab.ui.playground): `element`, `props` and
// `server` are Gradio's. Loads the page's modules and style from the app's /cnnlab/web route
// (under the page's root path, cached by the browser) and mounts the tab.
const root = ((window.gradio_config && window.gradio_config.root) || location.origin).replace(/\/$/, '');
const web = root + '/cnnlab/web/playground/';
if (!document.querySelector('link[data-cnnlab="playground"]')) {
  const css = document.createElement('link');
  css.rel = 'stylesheet';
  css.href = web + 'page.css';
  css.dataset.cnnlab = 'playground';
  document.head.appendChild(css);
}
import(web + 'page.js').then((m) => m.mount(element, props, server));
