// Runs the browser engine in node for tests/test_web_engine.py:
//
//   node tests/js/run_engine.mjs WEIGHTS IMAGES N OUT [LAYERS_FOR]
//
// WEIGHTS: a file written by cnnlab.core.nets.webexport.pack; IMAGES: N images of grey levels (uint8,
// [C][H][W] each, as the model's input size); OUT: where the results go, float32 little-endian:
// the probabilities of every image (N x classes), then, for the first LAYERS_FOR images, every
// entry of forward's `layers` one after the other. Prints JSON: the layers' names, kinds and
// shapes, and the forward pass's time per image in milliseconds.
import { readFileSync, writeFileSync } from "node:fs";

import { forward, loadModel, toInput } from "../../cnnlab/ui/web/engine/model.js";
import { unpack } from "../../cnnlab/ui/web/engine/weights.js";

const [weightsPath, imagesPath, countText, outPath, layersForText = "0"] = process.argv.slice(2);
const asArrayBuffer = (buffer) => buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength);

const { header, blob } = unpack(asArrayBuffer(readFileSync(weightsPath)));
const model = loadModel(header, blob);
const images = new Uint8Array(readFileSync(imagesPath));
const n = Number(countText);
const layersFor = Number(layersForText);
const [c, h, w] = model.inputShape;
const size = c * h * w;
if (images.length !== n * size) throw new Error(`expected ${n} images of ${size} bytes, got ${images.length} bytes`);

const inputs = [];
for (let k = 0; k < n; k++) inputs.push(toInput(model, images.subarray(k * size, (k + 1) * size)));
for (let k = 0; k < Math.min(n, 20); k++) forward(model, inputs[k]);      // warm up the JIT
const probs = [];
const kept = [];                       // every layer's output, for the first LAYERS_FOR images
const started = process.hrtime.bigint();
for (let k = 0; k < n; k++) {
  const run = forward(model, inputs[k]);
  probs.push(run.probs);
  if (k < layersFor) kept.push(run.layers);
}
const msPerImage = Number(process.hrtime.bigint() - started) / 1e6 / Math.max(n, 1);

const parts = [...probs];
for (const layers of kept) for (const layer of layers) parts.push(layer.data);
const total = parts.reduce((a, p) => a + p.length, 0);
const out = new Float32Array(total);
let at = 0;
for (const p of parts) {
  out.set(p, at);
  at += p.length;
}
writeFileSync(outPath, new Uint8Array(out.buffer));
const layers = n ? forward(model, inputs[0]).layers.map(({ name, kind, shape }) => ({ name, kind, shape })) : [];
console.log(JSON.stringify({ classes: model.classes.length, layers, ms_per_image: msPerImage }));
