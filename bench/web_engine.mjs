// Times the browser engine in node: one drawing's preprocessing, and one forward pass per model.
// Run through bench/web_engine.py, which exports the shipped checkpoints and draws the digits:
//
//   node bench/web_engine.mjs ENGINE_DIR DRAWINGS.u8 SIDE MODEL.bin [MODEL.bin ...]
//
// ENGINE_DIR: the engine's folder (cnnlab/ui/web/engine, or an older copy to compare with);
// DRAWINGS: square RGBA canvases of SIDE pixels, one after the other (ink as the canvas holds it).
// Buffers are reused from call to call as the page does (makeWork, when the engine has it).
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [engineDir, drawingsPath, sideText, ...modelPaths] = process.argv.slice(2);
const engine = (file) => import(pathToFileURL(resolve(engineDir, file)).href);
const { forward, loadModel, makeWork, toInput } = await engine("model.js");
const { sketchToMnist } = await engine("preprocess.js");
const { unpack } = await engine("weights.js");

const side = Number(sideText);
const bytes = new Uint8Array(readFileSync(drawingsPath));
const drawings = [];
for (let at = 0; at < bytes.length; at += side * side * 4) drawings.push(bytes.subarray(at, at + side * side * 4));

/** p50, p95 and max in ms of `runs` calls of f(k), after `warm` calls to let the JIT settle. */
function timed(f, runs = 400, warm = 50) {
  for (let k = 0; k < warm; k++) f(k);
  const ms = [];
  for (let k = 0; k < runs; k++) {
    const t = performance.now();
    f(k);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (q) => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))].toFixed(2);
  return `p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${ms[ms.length - 1].toFixed(2)} ms`;
}

const seen = drawings.map((d) => sketchToMnist(d, side, side).seen);
console.log(`preprocess (${side}x${side} RGBA canvas -> 28x28): ${timed((k) => sketchToMnist(drawings[k % drawings.length], side, side))}`);
for (const path of modelPaths) {
  const file = readFileSync(path);
  const { header, blob } = unpack(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
  const model = loadModel(header, blob);
  const inputs = seen.map((s) => toInput(model, s));
  const work = makeWork ? makeWork(model) : undefined;
  console.log(`${basename(path)}: forward ${timed((k) => forward(model, inputs[k % inputs.length], work))}`);
  console.log(`${basename(path)}: drawing -> answer ${timed((k) => {
    const prepared = sketchToMnist(drawings[k % drawings.length], side, side);
    return forward(model, toInput(model, prepared.seen, work && work.input), work);
  })}`);
}
