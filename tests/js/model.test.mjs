// Unit tests of the weights file and a whole (tiny) model worked out by hand: node --test tests/js
import { test } from "node:test";
import assert from "node:assert/strict";

import { convDetail, forward, loadModel, toInput } from "../../cnnlab/ui/web/engine/model.js";
import { decodeFloat16, fetchWeights, halfToFloat, readTensor, unpack } from "../../cnnlab/ui/web/engine/weights.js";

test("float16 bits decode to their numbers", () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x3555), 0.333251953125);
  assert.equal(halfToFloat(0x7bff), 65504);            // the largest float16
  assert.equal(halfToFloat(0x0001), 2 ** -24);         // the smallest subnormal
  assert.equal(halfToFloat(0x8000), -0);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
  assert.deepEqual(Array.from(decodeFloat16(Uint16Array.of(0x3800, 0xb800))), [0.5, -0.5]);
});

/** A weights file as cnnlab.core.nets.webexport.pack writes it. */
function pack(header, blob) {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((4 + text.length) / 4) * 4;
  const file = new Uint8Array(start + blob.byteLength);
  new DataView(file.buffer).setUint32(0, text.length, true);
  file.set(text, 4);
  file.set(new Uint8Array(blob), start);
  return file.buffer;
}

// A tiny network: a 4x4 grey input -> conv 2 channels 3x3 padding 1 (float16 weights) -> ReLU ->
// max pool 2 -> flatten (8) -> dense 3 (float32), temperature 2.
function tinyModel() {
  const blob = new ArrayBuffer(18 * 2 + 2 * 4 + 3 * 8 * 4 + 3 * 4 + 4);
  const halves = new Uint16Array(blob, 0, 18);
  halves.fill(0x3c00, 0, 9);                            // channel 0: all ones
  halves.fill(0xbc00, 9, 18);                           // channel 1: all minus ones
  new Float32Array(blob, 36, 2).set([0, 0]);
  const dense = new Float32Array(blob, 44, 24);
  dense[0] = 1;                                          // class 0: the first value
  dense[8 + 1] = 1;                                      // class 1: the second and third, minus 9
  dense[8 + 2] = 1;
  new Float32Array(blob, 140, 3).set([0, -9, 1]);
  const header = {
    format: "cnnlab-web", format_version: 1, classes: ["a", "b", "c"], channels: 1, input_size: 4,
    mean: [0.5], std: [0.5], temperature: 2, mirror: false,
    layers: [
      { name: "conv1", kind: "conv", kernel: [3, 3], stride: [1, 1], padding: [1, 1], shape: [2, 4, 4],
        weight: { offset: 0, shape: [2, 1, 3, 3], dtype: "float16" }, bias: { offset: 36, shape: [2], dtype: "float32" } },
      { name: "relu1", kind: "relu", shape: [2, 4, 4] },
      { name: "maxpool1", kind: "maxpool", kernel: [2, 2], stride: [2, 2], padding: [0, 0], shape: [2, 2, 2] },
      { name: "flatten1", kind: "flatten", shape: [8] },
      { name: "dense1", kind: "dense", shape: [3],
        weight: { offset: 44, shape: [3, 8], dtype: "float32" }, bias: { offset: 140, shape: [3], dtype: "float32" } },
    ],
  };
  return pack(header, blob);
}

test("a packed file unpacks into its header and tensors", () => {
  const { header, blob } = unpack(tinyModel());
  assert.equal(header.classes.length, 3);
  assert.deepEqual(Array.from(readTensor(blob, header.layers[0].weight)).slice(7, 11), [1, 1, -1, -1]);
  assert.throws(() => readTensor(blob, { offset: 140, shape: [100], dtype: "float32" }), /outside/);
});

test("forward: every layer's output, and calibrated probabilities", () => {
  const { header, blob } = unpack(tinyModel());
  const model = loadModel(header, blob);
  const input = toInput(model, new Uint8Array(16).fill(255));   // (1 - 0.5) / 0.5 = 1 everywhere
  assert.deepEqual(Array.from(input), Array(16).fill(1));
  const run = forward(model, input);
  assert.deepEqual(run.layers.map((l) => l.name), ["input", "conv1", "relu1", "maxpool1", "flatten1", "dense1", "softmax"]);
  assert.deepEqual(run.layers.map((l) => l.shape), [[1, 4, 4], [2, 4, 4], [2, 4, 4], [2, 2, 2], [8], [3], [3]]);
  // Channel 0 counts the pixels under the kernel: 4 in a corner, 6 on an edge, 9 inside.
  assert.deepEqual(Array.from(run.layers[1].data.slice(0, 8)), [4, 6, 6, 4, 6, 9, 9, 6]);
  assert.deepEqual(Array.from(run.layers[2].data.slice(16, 20)), [0, 0, 0, 0]);     // ReLU of minus counts
  assert.deepEqual(Array.from(run.layers[4].data), [9, 9, 9, 9, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(run.logits), [9, 9, 1]);
  const e = [Math.exp(4.5), Math.exp(4.5), Math.exp(0.5)];
  const sum = e[0] + e[1] + e[2];
  e.forEach((v, k) => assert.ok(Math.abs(run.probs[k] - v / sum) < 1e-7));
  const detail = convDetail(model, run, "conv1", 0, 0, 0);
  assert.equal(detail.total, 4);
  assert.equal(detail.after, 4);
  assert.equal(detail.afterKind, "relu");
  assert.equal(convDetail(model, run, "conv1", 1, 1, 1).after, 0);
});

test("a file of another format is refused", () => {
  assert.throws(() => loadModel({ format: "something else", layers: [] }, new ArrayBuffer(0)), /cnnlab-web/);
});

test("fetchWeights downloads and unpacks; a failed answer says so", async () => {
  const file = tinyModel();
  const ok = async () => ({ ok: true, status: 200, arrayBuffer: async () => file });
  const { header } = await fetchWeights("/weights/abc", ok);
  assert.equal(header.layers.length, 5);
  const missing = async () => ({ ok: false, status: 404 });
  await assert.rejects(fetchWeights("/weights/gone", missing), /404/);
});
