// A drawing -> the 28x28 digit the network sees: the same maths as cnnlab/core/preprocess.py's
// sketch_to_mnist, step by step, so a phone computes exactly what the server would
// (tests/test_web_preprocess.py compares the two on the same drawings).
//
// How MNIST was made (LeCun et al.): crop to the ink, scale the longest side to 20 px keeping
// the aspect ratio (anti-aliased: Pillow's LANCZOS filter, reproduced below to the integer), then
// place the digit in a 28x28 frame so that its centre of mass lands on pixel 14. Students draw with
// any pen (a 1-px mouse line, a fat finger), so the strokes are first redrawn about as wide as
// MNIST's pen.
//
//   const prepared = sketchToMnist(imageData.data, width, height);   // RGBA or grey pixels
//   if (prepared) forward(model, toInput(model, prepared.seen));      // model.js
//
// Images are grey levels in Uint8Arrays, row by row; `w` and `h` their width and height.

export const INK_THRESHOLD = 30;     // grey levels above which a pixel counts as ink
export const DIGIT_BOX = 20;         // MNIST fits the digit into 20x20 ...
export const FRAME = 28;             // ... inside a 28x28 frame
export const STROKE_WIDTH_28 = 2.2;  // MNIST's median pen width in the 28x28 frame
export const MASS_CENTRE = 14.0;     // where MNIST's centre of mass lies (whole-pixel shifts)
export const WORK_SIDE = 96;         // strokes are redrawn on a copy at most this many pixels across

// ------------------------------------------------------------------ numbers as Python rounds them
/** Python's round(): halves go to the even neighbour (round(2.5) == 2, round(3.5) == 4). */
export function roundHalfEven(v) {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

const clip = (v, low, high) => Math.min(Math.max(v, low), high);

// ------------------------------------------------------------------ canvas pixels -> grey
/**
 * Canvas pixels -> grey levels, as Pillow does it for the server: RGBA is laid on white paper
 * (Image.alpha_composite, integer maths) and turned grey (convert("L"): ITU-R 601-2 weights).
 * A grey image (one byte a pixel) is returned as it is.
 */
export function greyPixels(pixels, w, h, out) {
  if (pixels.length === w * h) return out ? (out.set(pixels), out) : Uint8Array.from(pixels);
  if (pixels.length !== 4 * w * h) throw new Error(`greyPixels: ${pixels.length} bytes is neither grey nor RGBA ${w}x${h}`);
  const grey = out || new Uint8Array(w * h);
  const table = onWhiteTable();
  for (let k = 0, at = 0; k < w * h; k++, at += 4) {
    const a = pixels[at + 3];
    if (a === 0) {
      grey[k] = 255;                         // paper
      continue;
    }
    const row = a << 8;
    const r = pixels[at], g = pixels[at + 1], b = pixels[at + 2];
    // a grey pixel stays itself (19595 + 38470 + 7471 = 65536: the weights add up to one exactly)
    grey[k] = r === g && g === b ? table[row | r]
      : (table[row | r] * 19595 + table[row | g] * 38470 + table[row | b] * 7471 + 0x8000) >> 16;
  }
  return grey;
}

/** Pillow's AlphaComposite.c for a value over opaque white paper, 7 bits of precision. */
function onWhite(value, alpha) {
  const coef1 = alpha * 128;                 // alpha * 255 * 255 * 128 / (255 * 255)
  const coef2 = 255 * 128 - coef1;
  const t = value * coef1 + 255 * coef2 + (0x80 << 7);
  return (((t >> 8) + t) >> 8) >> 7;
}

let whiteTable = null;
/** onWhite for every alpha and value: table[(alpha << 8) | value] (64 kB, made once). */
function onWhiteTable() {
  if (!whiteTable) {
    whiteTable = new Uint8Array(256 * 256);
    for (let a = 0; a < 256; a++) for (let v = 0; v < 256; v++) whiteTable[(a << 8) | v] = onWhite(v, a);
  }
  return whiteTable;
}

// ------------------------------------------------------------------ small image helpers
/** [y0, y1, x0, x1] around the pixels brighter than INK_THRESHOLD (ends exclusive), or null. */
export function inkBox(image, w, h) {
  const box = [-1, -1, w, -1];
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let first = -1, lastX = -1;
    for (let x = 0; x < w; x++) {
      if (image[row + x] > INK_THRESHOLD) { if (first < 0) first = x; lastX = x; }
    }
    addRow(box, y, first, lastX);
  }
  return box[0] < 0 ? null : box;
}

/** Grow `box` ([y0, y1, x0, x1], ends exclusive; y0 -1 while empty) by row y's ink, which runs
 *  from x = first to x = last (first -1: none). */
function addRow(box, y, first, last) {
  if (first < 0) return;
  if (box[0] < 0) box[0] = y;
  box[1] = y + 1;
  if (first < box[2]) box[2] = first;
  if (last + 1 > box[3]) box[3] = last + 1;
}

/** 1 where the image is brighter than `level`, else 0. */
function above(image, level) {
  const out = new Uint8Array(image.length);
  for (let k = 0; k < image.length; k++) out[k] = image[k] > level ? 1 : 0;
  return out;
}

/** 255 - v for every pixel: dark ink on paper <-> bright ink on black. */
function inverted(image) {
  const out = new Uint8Array(image.length);
  for (let k = 0; k < image.length; k++) out[k] = 255 - image[k];
  return out;
}

/** The rectangle [y0, y1) x [x0, x1) of an image, as a new image. */
function crop(image, w, [y0, y1, x0, x1]) {
  const out = new Uint8Array((y1 - y0) * (x1 - x0));
  for (let y = y0; y < y1; y++) out.set(image.subarray(y * w + x0, y * w + x1), (y - y0) * (x1 - x0));
  return out;
}

/** The image with `margin` pixels of black all round. */
function padImage(image, w, h, margin) {
  const pw = w + 2 * margin;
  const out = new Uint8Array(pw * (h + 2 * margin));
  for (let y = 0; y < h; y++) out.set(image.subarray(y * w, (y + 1) * w), (y + margin) * pw + margin);
  return out;
}

/** Each step x step block's brightest pixel (a 1-px line survives), the last blocks padded with black. */
function blockMax(image, w, h, step) {
  const bw = Math.ceil(w / step);
  const bh = Math.ceil(h / step);
  const out = new Uint8Array(bw * bh);
  const column = new Int32Array(w);                   // the block column of each x
  for (let x = 0; x < w; x++) column[x] = Math.floor(x / step);
  for (let y = 0; y < h; y++) {
    const row = Math.floor(y / step) * bw;
    for (let x = 0; x < w; x++) {
      const v = image[y * w + x];
      if (v > out[row + column[x]]) out[row + column[x]] = v;
    }
  }
  return { image: out, w: bw, h: bh };
}

// ------------------------------------------------------------------ distances (scipy's distance_transform_edt)
/**
 * Squared distances along one line: d[q] = min over p of (q - p)^2 + f[p] (f may hold Infinity),
 * by the lower envelope of parabolas (Felzenszwalb and Huttenlocher, 2012).
 */
function squaredDistance1d(f, n, d, v, z) {
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q] === Infinity) continue;
    let s = -Infinity;
    while (k >= 0) {
      const p = v[k];
      s = (f[q] + q * q - f[p] - p * p) / (2 * (q - p));
      if (s > z[k]) break;
      k--;
    }
    if (k < 0) s = -Infinity;
    k++;
    v[k] = q;
    z[k] = s;
  }
  if (k < 0) {
    d.fill(Infinity, 0, n);
    return;
  }
  z[k + 1] = Infinity;
  for (let q = 0, j = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    d[q] = (q - v[j]) * (q - v[j]) + f[v[j]];
  }
}

/**
 * For every pixel where `inside` is true, the Euclidean distance to the nearest pixel where it
 * is false (0 where it is false): scipy.ndimage.distance_transform_edt, exact.
 */
export function distanceTransform(inside, w, h) {
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const squared = new Float64Array(w * h);
  for (let x = 0; x < w; x++) {              // down each column
    for (let y = 0; y < h; y++) f[y] = inside[y * w + x] ? Infinity : 0;
    squaredDistance1d(f, h, d, v, z);
    for (let y = 0; y < h; y++) squared[y * w + x] = d[y];
  }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++) {              // then along each row
    for (let x = 0; x < w; x++) f[x] = squared[y * w + x];
    squaredDistance1d(f, w, d, v, z);
    for (let x = 0; x < w; x++) out[y * w + x] = Math.sqrt(d[x]);
  }
  return out;
}

/** Pixels of `mask` on the centre line of their stroke: as deep as their deepest neighbour
 * (scipy's maximum_filter over 3x3; its border mode repeats the edge, which changes no maximum). */
function ridge(mask, depth, w, h) {
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + x]) continue;
      let deepest = -Infinity;
      for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++) {
        for (let xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) deepest = Math.max(deepest, depth[yy * w + xx]);
      }
      out[y * w + x] = depth[y * w + x] >= deepest ? 1 : 0;
    }
  }
  return out;
}

function median(values) {
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ------------------------------------------------------------------ the pen's width
/** Typical pen width of a drawing (a mask with background all round): twice the depth of the
 * strokes' centre lines, median over them (preprocess.py's _stroke_width). */
export function strokeWidth(mask, w, h) {
  const depth = distanceTransform(mask, w, h);
  const onRidge = ridge(mask, depth, w, h);
  const depths = [];
  for (let k = 0; k < w * h; k++) if (onRidge[k]) depths.push(depth[k]);
  return 2 * median(depths) - 0.5;
}

/** Redraw bright ink (background all round) with strokes `target` pixels wide instead of `width`:
 * thin strokes grow a halo, fat ones lose their outer layers down to their centre line. */
export function normaliseStroke(ink, w, h, width, target) {
  const mask = above(ink, 127);
  const change = (target - width) / 2;                 // pixels to add (or remove) on each side
  const out = new Uint8Array(w * h);
  if (change > 0) {
    const distance = distanceTransform(above(inverted(ink), 127), w, h);     // to the nearest ink
    for (let k = 0; k < w * h; k++) out[k] = Math.max(ink[k], clip(change + 0.5 - distance[k], 0, 1) * 255);
    return out;
  }
  const depth = distanceTransform(mask, w, h);          // to the nearest paper
  const centre = ridge(mask, depth, w, h);              // never break a stroke
  for (let k = 0; k < w * h; k++) out[k] = Math.max(clip(depth[k] + change + 0.5, 0, 1), centre[k]) * 255;
  return out;
}

/** The cropped ink redrawn with a pen `strokeWidth` px wide once it is 20 px tall (preprocess.py's
 * _restroke): { image, w, h, origin, step } (step: original pixels per pixel of the result). */
function restroke(image, w, h, origin, penWidth) {
  const step = Math.ceil(Math.max(w, h) / WORK_SIDE);
  const work = step > 1 ? blockMax(image, w, h, step) : { image, w, h };
  const margin = 2 + Math.floor(Math.max(work.w, work.h) / 8);       // room for a thin stroke to grow
  const pw = work.w + 2 * margin;
  const ph = work.h + 2 * margin;
  const padded = padImage(work.image, work.w, work.h, margin);
  // Block maxima widen a line by (step - 1) / step of a block on average: take that off.
  const width = strokeWidth(above(padded, 127), pw, ph) - (step - 1) / step;
  // The pen width scales with the digit, whose size includes the pen: the width here that
  // becomes `penWidth` once the digit's longest side is 20 px.
  const centreLine = Math.max(Math.max(work.w, work.h) - width, 1.0);
  const target = penWidth * centreLine / (DIGIT_BOX - penWidth);
  const asDrawn = { image, w, h, origin, step: 1 };
  if (0.75 * target <= width && width <= 1.33 * target) return asDrawn;   // already MNIST's pen
  const redrawn = normaliseStroke(padded, pw, ph, width, target);
  const box = inkBox(redrawn, pw, ph);
  if (box === null) return asDrawn;                    // cannot happen (the centre line stays)
  const [y0, y1, x0, x1] = box;
  return {
    image: crop(redrawn, pw, box), w: x1 - x0, h: y1 - y0, step,
    origin: [origin[0] + (x0 - margin) * step, origin[1] + (y0 - margin) * step],
  };
}

// ------------------------------------------------------------------ Pillow's resize, exactly
const PRECISION_BITS = 32 - 8 - 2;      // Pillow's fixed point for 8-bit images (Resample.c)

function sinc(x) {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** Pillow's LANCZOS filter: a sinc windowed by a wider sinc, 3 pixels each side. */
const lanczos = (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0);

/** For each output pixel along one axis, the first input pixel it reads and its integer weights
 * (Resample.c: precompute_coeffs, then normalize_coeffs_8bpc). */
const resampleCache = new Map();      // "in/out" -> taps (a drawing's sizes repeat frame after frame)
function resampleWeights(inSize, outSize) {
  const key = `${inSize}/${outSize}`;
  let taps = resampleCache.get(key);
  if (!taps) {
    if (resampleCache.size > 256) resampleCache.clear();
    taps = computeResampleWeights(inSize, outSize);
    resampleCache.set(key, taps);
  }
  return taps;
}

function computeResampleWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);           // shrinking widens the filter
  const support = 3 * filterScale;
  const taps = [];
  for (let xx = 0; xx < outSize; xx++) {
    const centre = (xx + 0.5) * scale;
    const first = Math.max(0, Math.trunc(centre - support + 0.5));
    const last = Math.min(inSize, Math.trunc(centre + support + 0.5));
    const weights = [];
    const step = 1 / filterScale;                   // Pillow multiplies by the inverse (same rounding)
    for (let x = first; x < last; x++) weights.push(lanczos((x - centre + 0.5) * step));
    const total = weights.reduce((a, b) => a + b, 0);
    const fixed = weights.map((wt) => {
      const normal = total !== 0 ? wt / total : wt;
      return Math.trunc(normal < 0 ? -0.5 + normal * 2 ** PRECISION_BITS : 0.5 + normal * 2 ** PRECISION_BITS);
    });
    taps.push({ first, weights: fixed });
  }
  return taps;
}

/** A weighted sum in Pillow's fixed point back to a grey level, rounded and clipped to 0..255. */
const toByte = (sum) => clip(Math.floor(sum / 2 ** PRECISION_BITS), 0, 255);

/**
 * Image.resize((outW, outH), Image.LANCZOS) of a grey image, to the integer: two passes (rows,
 * then columns) with an 8-bit image in between, as Pillow does.
 */
export function resizeLanczos(image, w, h, outW, outH) {
  let current = image;
  let cw = w;
  const half = 2 ** (PRECISION_BITS - 1);           // rounds the final shift
  if (outW !== w) {
    const taps = resampleWeights(w, outW);
    // Pillow only resizes the rows the vertical pass will read: all of them here (its box is whole).
    const out = new Uint8Array(outW * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < outW; x++) {
        const { first, weights } = taps[x];
        let sum = half;
        for (let k = 0; k < weights.length; k++) sum += image[y * w + first + k] * weights[k];
        out[y * outW + x] = toByte(sum);
      }
    }
    current = out;
    cw = outW;
  }
  if (outH !== h) {
    const taps = resampleWeights(h, outH);
    const out = new Uint8Array(cw * outH);
    for (let y = 0; y < outH; y++) {
      const { first, weights } = taps[y];
      for (let x = 0; x < cw; x++) {
        let sum = half;
        for (let k = 0; k < weights.length; k++) sum += current[(first + k) * cw + x] * weights[k];
        out[y * cw + x] = toByte(sum);
      }
    }
    current = out;
  }
  return current === image ? Uint8Array.from(image) : current;
}

// ------------------------------------------------------------------ the whole path
/**
 * 255 - greyPixels(pixels) into `ink` and, in the same pass, inkBox(ink): the canvas is read once.
 */
function inkOf(pixels, w, h, ink) {
  if (pixels.length !== 4 * w * h) {
    greyPixels(pixels, w, h, ink);
    for (let k = 0; k < ink.length; k++) ink[k] = 255 - ink[k];
    return inkBox(ink, w, h);
  }
  const table = onWhiteTable();
  const box = [-1, -1, w, -1];
  for (let y = 0, k = 0, at = 0; y < h; y++) {
    let first = -1, lastX = -1;
    for (let x = 0; x < w; x++, k++, at += 4) {
      const a = pixels[at + 3];
      let v = 0;                                         // paper
      if (a !== 0) {
        const row = a << 8;
        const r = pixels[at], g = pixels[at + 1], b = pixels[at + 2];
        v = 255 - (r === g && g === b ? table[row | r]
          : (table[row | r] * 19595 + table[row | g] * 38470 + table[row | b] * 7471 + 0x8000) >> 16);
      }
      ink[k] = v;
      if (v > INK_THRESHOLD) { if (first < 0) first = x; lastX = x; }
    }
    addRow(box, y, first, lastX);
  }
  return box[0] < 0 ? null : box;
}

let canvasBytes = new Uint8Array(0);
/** A grey image of the canvas's size, reused from drawing to drawing (nothing keeps it). */
function canvasBuffer(size) {
  if (canvasBytes.length !== size) canvasBytes = new Uint8Array(size);
  return canvasBytes;
}

/**
 * A drawing (dark ink on light paper; RGBA canvas pixels or grey levels, `width` x `height`) ->
 * { seen, offset, scale, shift }, or null when there is no ink. `seen`: the 28x28 grey digit
 * (Uint8Array, bright ink on black) the model gets; where it came from in the drawing:
 * seen = (drawing - offset) * scale + shift, offset and shift as [x, y].
 * `strokeWidth`: the pen width wanted in the 28x28 frame (null keeps the student's own).
 */
export function sketchToMnist(pixels, width, height, { strokeWidth: penWidth = STROKE_WIDTH_28 } = {}) {
  const ink = canvasBuffer(width * height);
  const box = inkOf(pixels, width, height, ink);          // bright ink on black, like MNIST
  if (box === null) return null;
  let digit = { image: crop(ink, width, box), w: box[3] - box[2], h: box[1] - box[0], origin: [box[2], box[0]], step: 1 };
  let strong = 0;                                        // pixels of full ink
  for (const v of digit.image) if (v > 127) strong++;
  if (penWidth && strong >= 4) {
    digit = restroke(digit.image, digit.w, digit.h, digit.origin, penWidth);
  }
  const scale = DIGIT_BOX / Math.max(digit.w, digit.h);   // digit pixels -> seen pixels
  const w = Math.max(1, roundHalfEven(digit.w * scale));
  const h = Math.max(1, roundHalfEven(digit.h * scale));
  const small = resizeLanczos(digit.image, digit.w, digit.h, w, h);
  // Centre of mass to MNIST's centre (whole pixels, as MNIST did), kept inside the frame.
  let mass = 0, sumY = 0, sumX = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = small[y * w + x];
      mass += v; sumY += v * y; sumX += v * x;
    }
  }
  if (mass <= 0) return null;
  const left = clip(roundHalfEven(MASS_CENTRE - sumX / mass), 0, FRAME - w);
  const top = clip(roundHalfEven(MASS_CENTRE - sumY / mass), 0, FRAME - h);
  // Stretch to full brightness, in float32 as numpy does it for the server.
  let brightest = 0;
  for (const v of small) brightest = Math.max(brightest, v);
  const gain = Math.fround(255 / Math.max(brightest, 1));
  const seen = new Uint8Array(FRAME * FRAME);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) seen[(top + y) * FRAME + left + x] = clip(Math.fround(small[y * w + x] * gain), 0, 255);
  }
  return { seen, offset: digit.origin, scale: scale / digit.step, shift: [left, top] };
}
