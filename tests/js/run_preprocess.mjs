// Runs the browser's preprocessing in node for tests/test_web_preprocess.py:
//
//   node tests/js/run_preprocess.mjs DRAWINGS OUT
//
// DRAWINGS: drawings one after the other, each as three unsigned 32-bit little-endian numbers
// (width, height, bytes per pixel: 1 grey or 4 RGBA) and its pixels. OUT gets the 28x28 images
// (784 bytes each, zeros for an empty drawing). Prints JSON: for each drawing null (no ink) or
// { offset, scale, shift }, and the time per drawing in milliseconds.
import { readFileSync, writeFileSync } from "node:fs";

import { sketchToMnist } from "../../cnnlab/ui/web/engine/preprocess.js";

const [drawingsPath, outPath] = process.argv.slice(2);
const bytes = new Uint8Array(readFileSync(drawingsPath));
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const drawings = [];
for (let at = 0; at < bytes.length;) {
  const [w, h, depth] = [0, 4, 8].map((k) => view.getUint32(at + k, true));
  drawings.push({ w, h, pixels: bytes.subarray(at + 12, at + 12 + w * h * depth) });
  at += 12 + w * h * depth;
}
const started = process.hrtime.bigint();
const results = drawings.map(({ w, h, pixels }) => sketchToMnist(pixels, w, h));
const msPerDrawing = Number(process.hrtime.bigint() - started) / 1e6 / Math.max(drawings.length, 1);
const out = new Uint8Array(784 * drawings.length);
results.forEach((r, k) => r && out.set(r.seen, k * 784));
writeFileSync(outPath, out);
const placed = results.map((r) => r && { offset: r.offset, scale: r.scale, shift: r.shift });
console.log(JSON.stringify({ results: placed, ms_per_drawing: msPerDrawing }));
