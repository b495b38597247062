// The Train tab follows the shared run (cnnlab/ui/train_feed.py): the body of a hidden gr.HTML's
// js_on_load (a function of element, trigger, props). One long poll at a time, and about one
// request a second (props.tick_s) at most, however often the run changes:
// - what changes while a run goes is set here: props.value = the answer fires .change, a
//   browser-only event that hands it to the status, the plots and the guesses (no request);
// - on the first answer, and when what only the server draws changed (a new run, its end, the
//   buttons), .input asks Gradio's refresh, once, after a random wait of up to the answer's
//   spread_s (the server's: it grows with the class), so that a class of pages does not ask in
//   the same instant; after a tick on the teacher's page (the key typed in); not at all when a refresh
//   drew it meanwhile (the page that pressed Train is refreshed after its click: props.drawn,
//   set by the server);
// - when the feed cannot be reached (an older server, a proxy that drops it), .input every
//   tick_s, as the tab's timer did.
const root = (window.gradio_config && window.gradio_config.root) || (location.origin + location.pathname);
const page = Math.random().toString(36).slice(2, 12);    // this page, counted by the server
const feed = (since) => new URL(`cnnlab/train/feed?since=${since}&page=${page}`, root.replace(/\/?$/, '/')).href;
const pause = (ms) => new Promise((done) => setTimeout(done, ms));
const tick = 1000 * (props.tick_s || 1);
let since = -1;
let serverKey = null;  // (`server` is a parameter of js_on_load)

(async () => {
  while (element.isConnected) {
    const asked = performance.now();
    let answer = null;
    try {
      const response = await fetch(feed(since), { cache: 'no-store' });
      if (response.ok) answer = await response.json();
    } catch (err) {
      answer = null;
    }
    if (!answer || typeof answer.version !== 'number') {
      trigger('input');
    } else if (answer.version !== since) {
      since = answer.version;
      if (serverKey === null) trigger('input');                 // the page's first answer
      else {
        props.value = JSON.stringify(answer);      // the status (a run's end: its test accuracy), curves, guesses
        if (answer.server !== serverKey) {
          // Every page hears of a new run or its end at the same moment: each asks for its
          // refresh within spread_s of it, not all in the same instant; the teacher's without it.
          // At least a tick first: the refresh a page's own click asked for lands meanwhile
          // (props.drawn), and the page does not ask for it a second time.
          const key = answer.server;
          const keyBox = document.querySelector('#train-key input');
          const spread = keyBox && keyBox.value ? 0 : (answer.spread_s ?? props.spread_s ?? 0);
          setTimeout(() => { if (props.drawn !== key) trigger('input'); },
                     Math.max(tick, Math.random() * 1000 * spread));
        }
      }
      serverKey = answer.server;
    }
    // A pause of 0.75-1.25 ticks since the last ask: pages answered by the same change do not all
    // ask again in the same instant, one change later (a herd the laptop would serve one by one).
    await pause(Math.max(0, tick * (0.75 + Math.random() / 2) - (performance.now() - asked)));
  }
})();
