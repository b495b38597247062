// Unit tests of the image layers on small examples worked out by hand: node --test tests/js
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  avgPool2d, batchNorm, conv2d, convAt, flatten, foldBatchNorm, maxPool2d, outputSize, tensor,
} from "../../cnnlab/ui/web/engine/conv.js";

const t = (shape, values) => tensor(shape, Float32Array.from(values));
const near = (actual, expected, tol = 1e-6) => {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  for (let k = 0; k < expected.length; k++) {
    assert.ok(Math.abs(actual[k] - expected[k]) <= tol, `[${k}] ${actual[k]} != ${expected[k]}`);
  }
};

// 1 channel, 3x3:   1 2 3
//                   4 5 6
//                   7 8 9
const image = t([1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);

test("output size follows PyTorch's formula", () => {
  assert.equal(outputSize(28, 5, 1, 2), 28);
  assert.equal(outputSize(28, 3, 2, 1), 14);
  assert.equal(outputSize(14, 5, 1, 0), 10);
  assert.equal(outputSize(7, 2, 2, 0), 3);     // the odd pixel is dropped (floor)
});

test("conv2d without padding: a 2x2 kernel over 3x3", () => {
  const w = t([1, 1, 2, 2], [1, 0, 0, -1]);     // top-left minus bottom-right
  const out = conv2d(image, w, Float32Array.of(10));
  assert.deepEqual(out.shape, [1, 2, 2]);
  near(out.data, [1 - 5 + 10, 2 - 6 + 10, 4 - 8 + 10, 5 - 9 + 10]);
});

test("conv2d with padding 1 keeps the size and reads zeros outside", () => {
  const w = t([1, 1, 3, 3], [0, 0, 0, 0, 0, 1, 0, 0, 0]);   // take the right-hand neighbour
  const out = conv2d(image, w, null, { padding: 1 });
  assert.deepEqual(out.shape, [1, 3, 3]);
  near(out.data, [2, 3, 0, 5, 6, 0, 8, 9, 0]);
  const sum = conv2d(image, t([1, 1, 3, 3], Array(9).fill(1)), null, { padding: 1 });
  near(sum.data, [12, 21, 16, 27, 45, 33, 24, 39, 28]);
});

test("conv2d with stride 2 and padding 1", () => {
  const sum = conv2d(image, t([1, 1, 3, 3], Array(9).fill(1)), null, { stride: 2, padding: 1 });
  assert.deepEqual(sum.shape, [1, 2, 2]);
  near(sum.data, [12, 16, 24, 28]);
});

test("conv2d sums over input channels and makes one map per output channel", () => {
  const two = t([2, 2, 2], [1, 2, 3, 4, 10, 20, 30, 40]);
  // out 0: channel 0 + channel 1; out 1: channel 1 only, times 2 (1x1 kernels)
  const w = t([2, 2, 1, 1], [1, 1, 0, 2]);
  const out = conv2d(two, w, Float32Array.of(0, 1));
  assert.deepEqual(out.shape, [2, 2, 2]);
  near(out.data, [11, 22, 33, 44, 21, 41, 61, 81]);
});

test("convAt writes out the sum at one pixel and equals the map", () => {
  const w = t([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const bias = Float32Array.of(0.5);
  const map = conv2d(image, w, bias, { padding: 1 });
  const at = convAt(image, w, bias, 0, 0, 0, { padding: 1 });
  near(at.inputs, [0, 0, 0, 0, 1, 2, 0, 4, 5]);                   // top and left on the padding
  near(at.products, [0, 0, 0, 0, 5, 12, 0, 32, 45]);
  assert.equal(at.total, 5 + 12 + 32 + 45 + 0.5);
  near([at.total], [map.data[0]]);
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 3; x++) near([convAt(image, w, bias, 0, y, x, { padding: 1 }).total], [map.data[y * 3 + x]]);
  }
});

test("max pooling 2x2, stride 2, drops the odd row and column", () => {
  const out = maxPool2d(image, { kernel: 2 });
  assert.deepEqual(out.shape, [1, 1, 1]);
  near(out.data, [5]);
  const four = t([1, 4, 4], [1, 2, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, 0, 9, 0, 0]);
  near(maxPool2d(four, { kernel: 2 }).data, [6, 8, 9, 0]);
});

test("max pooling with padding ignores the padding (negative values stay)", () => {
  const neg = t([1, 2, 2], [-1, -2, -3, -4]);
  const out = maxPool2d(neg, { kernel: 2, stride: 1, padding: 1 });
  assert.deepEqual(out.shape, [1, 3, 3]);
  near(out.data, [-1, -1, -2, -1, -1, -2, -3, -3, -4]);
});

test("average pooling, with padding counted as zeros like PyTorch", () => {
  near(avgPool2d(image, { kernel: 2, stride: 1 }).data, [3, 4, 6, 7]);
  const padded = avgPool2d(image, { kernel: 2, stride: 2, padding: 1 });
  assert.deepEqual(padded.shape, [1, 2, 2]);
  near(padded.data, [1 / 4, (2 + 3) / 4, (4 + 7) / 4, (5 + 6 + 8 + 9) / 4]);
  const own = avgPool2d(image, { kernel: 2, stride: 2, padding: 1, countPadding: false });
  near(own.data, [1, 2.5, 5.5, 7]);
});

test("batch norm scales and shifts each channel; folding it into a conv gives the same map", () => {
  const two = t([2, 1, 2], [1, 2, 3, 4]);
  near(batchNorm(two, Float32Array.of(2, -1), Float32Array.of(0, 1)).data, [2, 4, -2, -3]);
  const w = t([2, 1, 1, 1], [1, 3]);
  const scale = Float32Array.of(0.5, 2);
  const shift = Float32Array.of(1, -1);
  const after = batchNorm(conv2d(image, w, Float32Array.of(1, 0)), scale, shift);
  const folded = foldBatchNorm(w, Float32Array.of(1, 0), scale, shift);
  near(conv2d(image, folded.weight, folded.bias).data, after.data);
});

test("flatten keeps channel-major order", () => {
  const out = flatten(t([2, 1, 2], [1, 2, 3, 4]));
  assert.deepEqual(out.shape, [4]);
  near(out.data, [1, 2, 3, 4]);
});

test("conv2d equals the written-out sum at every pixel (several channels, stride, padding, odd kernel)", () => {
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5;
  const input = tensor([3, 7, 6], Float32Array.from({ length: 3 * 7 * 6 }, random));
  const weight = tensor([5, 3, 2, 3], Float32Array.from({ length: 5 * 3 * 2 * 3 }, random));
  const bias = Float32Array.from({ length: 5 }, random);
  for (const settings of [{}, { stride: 2, padding: 1 }, { stride: [1, 2], padding: [2, 0] }]) {
    const out = conv2d(input, weight, bias, settings);
    const [c, h, w] = out.shape;
    for (let o = 0; o < c; o++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          near([out.data[(o * h + y) * w + x]], [convAt(input, weight, bias, o, y, x, settings).total]);
        }
      }
    }
  }
});
