// The Train tab's page side of the long poll (cnnlab/ui/web/train_feed.js), run as Gradio runs a
// js_on_load body, with the feed's answers and the clock in the test's hands: node --test tests/js
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";

const body = await readFile(new URL("../../cnnlab/ui/web/train_feed.js", import.meta.url), "utf8");
const settle = () => new Promise((done) => setImmediate(done));

// One page: the answers its fetches get, the events it triggers, and its timers (run by the test).
function page(props) {
  const page = { asked: [], triggered: [], timers: [], answers: [], element: { isConnected: true } };
  const realTimeout = globalThis.setTimeout;
  globalThis.window = { gradio_config: { root: "http://laptop:7860/" } };
  page.teacherKey = "";                                    // what the Train tab's key box holds
  globalThis.document = { querySelector: (css) => (css === "#train-key input" ? { value: page.teacherKey } : null) };
  // An ask with no answer queued waits (a long poll), unless the feed is not there at all.
  globalThis.fetch = (url) => {
    const params = new URL(url).searchParams;
    page.asked.push(params.get("since"));
    page.ids = [...(page.ids || []), params.get("page")];
    if (page.unreachable) return Promise.reject(new TypeError("Failed to fetch"));
    const reply = (answer) => ({ ok: true, json: async () => answer });
    if (page.answers.length) return Promise.resolve(reply(page.answers.shift()));
    return new Promise((done) => { page.waiting = (answer) => done(reply(answer)); });
  };
  globalThis.setTimeout = (run, ms) => page.timers.push({ run, ms });
  page.start = () => Function("element", "trigger", "props", body)(page.element, (e) => page.triggered.push(e), props);
  page.close = () => { page.element.isConnected = false; globalThis.setTimeout = realTimeout; };
  // Runs the timers due now (the spread refresh, the pause before the next ask), in the order set.
  page.tick = async (answer) => {
    if (answer && page.waiting) {
      const give = page.waiting;
      page.waiting = null;
      give(answer);
    } else if (answer) page.answers.push(answer);
    await settle();
    const due = page.timers.splice(0);
    for (const timer of due) timer.run();
    await settle();
  };
  return page;
}

const answer = (version, server, spread_s) => ({ version, server, spread_s, status: `v${version}` });

/** A page that has opened and heard its first answer (its first refresh is asked for then). */
async function opened(props, first = answer(1, "A")) {
  const p = page(props);
  p.answers.push(first);
  p.start();
  await settle();
  return p;
}

test("a page refreshes on its first answer, takes progress from the feed, and spreads a new run's refresh", async () => {
  const props = { tick_s: 1, spread_s: 8 };
  const p = await opened(props);
  assert.deepEqual(p.triggered, ["input"]);                         // the first answer: the whole refresh
  await p.tick(answer(2, "A"));                                     // progress: set by the page itself
  assert.deepEqual(p.triggered, ["input"]);
  assert.equal(JSON.parse(props.value).status, "v2");
  await p.tick(answer(3, "B"));                                     // a new run: a refresh, after a spread wait
  assert.deepEqual(p.triggered, ["input"]);                         // (not in the same instant)
  assert.equal(JSON.parse(props.value).status, "v3");               // its status meanwhile, from the feed
  assert.ok(p.timers.every((t) => t.ms >= 0 && t.ms <= 8000), p.timers.map((t) => t.ms).join());
  const spread = p.timers[0].ms;                                    // (set before the pause to the next ask)
  assert.ok(spread >= 1000 && spread <= 8000, `${spread}`);         // at least a tick, at most the spread
  await p.tick();
  assert.deepEqual(p.triggered, ["input", "input"]);
  assert.deepEqual(p.asked, ["-1", "1", "2", "3"]);
  assert.match(p.ids[0], /^[a-z0-9]{4,32}$/);                       // one id for the page, counted by the server
  assert.ok(p.ids.every((id) => id === p.ids[0]), p.ids.join());
  p.close();
});

test("a page the server has just drawn (after its own click) does not ask for the same refresh again", async () => {
  const props = { tick_s: 1, spread_s: 8 };
  const p = await opened(props);
  await p.tick(answer(2, "B"));        // the feed hears of the run this page's Train click started ...
  props.drawn = "B";                   // ... which the click's own refresh has drawn meanwhile
  await p.tick();
  assert.deepEqual(p.triggered, ["input"]);
  await p.tick(answer(3, "C"));        // the run's end, not drawn yet: asked for
  await p.tick();
  assert.deepEqual(p.triggered, ["input", "input"]);
  p.close();
});

test("a page whose feed cannot be reached refreshes every tick, as the tab's timer did", async () => {
  const p = page({ tick_s: 1, spread_s: 8 });
  p.unreachable = true;
  p.start();
  await settle();
  await p.tick();
  await p.tick();
  assert.deepEqual(p.triggered, ["input", "input", "input"]);
  assert.ok(p.timers.every((t) => t.ms >= 0 && t.ms <= 1250), p.timers.map((t) => t.ms).join());
  p.close();
});

test("the spread is the server's (it grows with the class), and the teacher's page does not wait", async () => {
  const props = { tick_s: 1, spread_s: 8 };
  const p = await opened(props, answer(1, "A", 24));
  const spreads = [];
  for (let k = 0; k < 40; k++) {                    // random waits: all within the server's 24 s, most over 8
    await p.tick(answer(2 + 2 * k, `B${k}`, 24));
    spreads.push(p.timers[0].ms);
    await p.tick(answer(3 + 2 * k, `B${k}`, 24));
  }
  assert.ok(spreads.every((ms) => ms <= 24000), spreads.join());
  assert.ok(spreads.filter((ms) => ms > 8000).length > 10, spreads.join());
  p.teacherKey = "the teacher's key";
  await p.tick(answer(100, "C", 24));
  assert.equal(p.timers[0].ms, 1000);                               // a tick, not the spread
  p.close();
});
