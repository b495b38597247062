// Unit tests of the preprocessing's building blocks on small examples: node --test tests/js
// (tests/test_web_preprocess.py compares the whole path with the server's on real drawings.)
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  distanceTransform, greyPixels, inkBox, resizeLanczos, roundHalfEven, sketchToMnist,
} from "../../cnnlab/ui/web/engine/preprocess.js";

test("rounding as Python does: halves to the even neighbour", () => {
  assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 0, -2, 2, 3]);
});

test("RGBA canvas pixels on white paper, then grey", () => {
  const rgba = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 128, 255, 0, 0, 255);
  // transparent -> paper; opaque black; half-transparent black; opaque red (ITU-R 601-2: 0.299)
  assert.deepEqual(Array.from(greyPixels(rgba, 4, 1)), [255, 0, 127, 76]);
  assert.deepEqual(Array.from(greyPixels(Uint8Array.of(1, 2), 2, 1)), [1, 2]);
});

test("the ink's box: pixels above the threshold only", () => {
  const image = new Uint8Array(20);
  image[6] = 31;              // (y 1, x 1)
  image[13] = 200;            // (y 2, x 3)
  image[19] = 30;             // not ink
  assert.deepEqual(inkBox(image, 5, 4), [1, 3, 1, 4]);
  assert.equal(inkBox(new Uint8Array(4), 2, 2), null);
});

test("distance transform: exact Euclidean distance to the nearest background pixel", () => {
  // a 5x5 square of ones with one background pixel in the top-left corner
  const inside = new Uint8Array(25).fill(1);
  inside[0] = 0;
  const d = distanceTransform(inside, 5, 5);
  assert.equal(d[0], 0);
  assert.equal(d[1], 1);
  assert.equal(d[6], Math.SQRT2);
  assert.equal(d[24], Math.sqrt(32));
  assert.equal(d[4], 4);
  assert.equal(d[14], Math.sqrt(16 + 4));
});

test("Pillow's LANCZOS: a flat image stays flat, the size is what was asked", () => {
  const flat = new Uint8Array(40 * 30).fill(180);
  const small = resizeLanczos(flat, 40, 30, 20, 15);
  assert.equal(small.length, 300);
  assert.ok(small.every((v) => v === 180));
  const same = resizeLanczos(flat, 40, 30, 40, 30);
  assert.notEqual(same, flat);
  assert.deepEqual(same, flat);
});

test("a blank canvas has nothing to show; a drawing lands in the 28x28 frame", () => {
  assert.equal(sketchToMnist(new Uint8Array(100 * 100).fill(255), 100, 100), null);
  const paper = new Uint8Array(100 * 100).fill(255);
  for (let y = 20; y < 80; y++) for (let x = 45; x < 52; x++) paper[y * 100 + x] = 0;   // a "1"
  const { seen, shift } = sketchToMnist(paper, 100, 100);
  assert.equal(seen.length, 784);
  assert.equal(Math.max(...seen), 255);
  let mass = 0, sumX = 0, sumY = 0;
  seen.forEach((v, k) => { mass += v; sumX += v * (k % 28); sumY += v * Math.floor(k / 28); });
  assert.ok(Math.abs(sumX / mass - 14) <= 0.5 && Math.abs(sumY / mass - 14) <= 0.5);
  assert.equal(shift.length, 2);
});
