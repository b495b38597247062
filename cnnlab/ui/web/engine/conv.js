// The image layers of a convolutional network, forward only, as PyTorch computes them in eval mode.
//
// A tensor here is a plain object { shape, data }: `shape` is [channels, height, width] for an
// image (or [n] for a vector) and `data` a Float32Array laid out row by row, channel after channel,
// exactly as PyTorch stores one image of a batch (N, C, H, W). A convolution's weight is
// { shape: [outChannels, inChannels, kh, kw], data } in PyTorch's order (Conv2d.weight).
//
// Sums are accumulated in double precision and rounded to float32 once, when stored: the result
// is at least as accurate as PyTorch's float32 kernels, so the two agree to a few units in the
// last place of float32.
//
// New here? Read convAt first: it is the convolution at one pixel, written out as the definition
// says; conv2d computes the same numbers for every pixel, arranged for speed.

/** A tensor: a shape and its numbers (a new, zeroed Float32Array unless `data` is given). */
export function tensor(shape, data) {
  const size = shape.reduce((a, b) => a * b, 1);
  return { shape: [...shape], data: data ?? new Float32Array(size) };
}

/** Output side of a convolution or pooling window (PyTorch's formula, ceil_mode off). */
export function outputSize(size, kernel, stride, padding) {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/** A number or a [height, width] pair -> [height, width]. */
export function pair(v) {
  return Array.isArray(v) ? [v[0], v[1]] : [v, v];
}

/** The image with `ph` rows of zeros above and below each channel and `pw` columns left and right. */
export function pad(input, ph, pw) {
  const [c, h, w] = input.shape;
  if (ph === 0 && pw === 0) return input;
  const out = tensor([c, h + 2 * ph, w + 2 * pw]);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      const row = (ch * h + y) * w;
      out.data.set(input.data.subarray(row, row + w), (ch * (h + 2 * ph) + y + ph) * (w + 2 * pw) + pw);
    }
  }
  return out;
}

/**
 * A convolution made ready for an input of shape [inC, inH, inW] (done once per model, see model.js):
 * its output shape, its weights and bias as float64 (exact copies: the multiply-adds then read them
 * without a conversion), and for im2col the input index that each kernel weight k = (c * kh + i) * kw + j
 * reads at each output pixel p (`gather[k * Pp + p]`; padding and the spare columns read index
 * `inSize`, a zero). Pp is the number of pixels rounded up to 4 and Op the channels rounded up to
 * 4 (zero kernels): the multiply works on 4 x 4 blocks.
 */
export function convPlan(inShape, weight, bias, { stride = 1, padding = 0 } = {}) {
  const [inC, inH, inW] = inShape;
  const [outC, wC, kh, kw] = weight.shape;
  if (wC !== inC) throw new Error(`conv2d: weight expects ${wC} channels, input has ${inC}`);
  const [sh, sw] = pair(stride);
  const [ph, pw] = pair(padding);
  const outH = outputSize(inH, kh, sh, ph);
  const outW = outputSize(inW, kw, sw, pw);
  const K = inC * kh * kw;
  const P = outH * outW;
  const Pp = Math.ceil(P / 4) * 4;
  const Op = Math.ceil(outC / 4) * 4;
  const inSize = inC * inH * inW;
  const w = new Float64Array(Op * K);
  w.set(weight.data);
  const b = new Float64Array(outC);
  if (bias) b.set(bias);
  const gather = new Int32Array(K * Pp).fill(inSize);
  for (let c = 0, k = 0; c < inC; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++, k++) {
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * sh + i - ph;
          if (iy < 0 || iy >= inH) continue;
          for (let ox = 0; ox < outW; ox++) {
            const ix = ox * sw + j - pw;
            if (ix >= 0 && ix < inW) gather[k * Pp + oy * outW + ox] = (c * inH + iy) * inW + ix;
          }
        }
      }
    }
  }
  return { shape: [outC, outH, outW], outC, K, P, Pp, Op, inSize, w, b, gather };
}

/** Scratch arrays for convPlan's plans (shared by the layers of one model: they run one by one). */
export function convScratch(plans) {
  let src = 1, col = 1, acc = 1, rows = 1;
  for (const plan of plans) {
    src = Math.max(src, plan.inSize + 1);
    col = Math.max(col, plan.K * plan.Pp);
    acc = Math.max(acc, plan.Op * plan.Pp);
    rows = Math.max(rows, plan.K);
  }
  return { src: new Float64Array(src), col: new Float64Array(col), acc: new Float64Array(acc),
    rows: new Int32Array(rows), cols: new Int32Array(rows) };
}

/**
 * The convolution of `x` (Float32Array, the plan's input shape) into `out` (Float32Array of the
 * output's size), no allocation: im2col (every window laid out as a column of `col`, [K][Pp]),
 * then acc = W col in 4 x 4 blocks (sixteen sums that do not wait on each other; each weight read
 * once for four pixels, each input value once for four channels; rows of four zeros skipped),
 * then out = acc + bias, rounded to float32 once. Sums are float64 over the same products as convAt.
 */
export function conv2dInto(plan, x, out, scratch) {
  const { outC, K, P, Pp, Op, inSize, w, b, gather } = plan;
  const { src, col, acc, rows, cols } = scratch;
  for (let k = 0; k < inSize; k++) src[k] = x[k];
  src[inSize] = 0;
  for (let t = 0, n = K * Pp; t < n; t++) col[t] = src[gather[t]];
  for (let p = 0; p < Pp; p += 4) {
    // The rows of this block of four pixels that are not all zero: after a ReLU (and its pooling)
    // half of a layer's input is 0, and a product with 0 adds nothing (the sums are the same, bit for bit).
    let n = 0;
    for (let k = 0, at = p; k < K; k++, at += Pp) {
      if (col[at] !== 0 || col[at + 1] !== 0 || col[at + 2] !== 0 || col[at + 3] !== 0) { rows[n] = k; cols[n++] = at; }
    }
    for (let o = 0; o < Op; o += 4) {
      const w0 = o * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
      let c0 = 0, c1 = 0, c2 = 0, c3 = 0, d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      for (let t = 0; t < n; t++) {
        const k = rows[t], at = cols[t];
        const x0 = col[at], x1 = col[at + 1], x2 = col[at + 2], x3 = col[at + 3];
        const q0 = w[w0 + k], q1 = w[w1 + k], q2 = w[w2 + k], q3 = w[w3 + k];
        a0 += q0 * x0; a1 += q0 * x1; a2 += q0 * x2; a3 += q0 * x3;
        b0 += q1 * x0; b1 += q1 * x1; b2 += q1 * x2; b3 += q1 * x3;
        c0 += q2 * x0; c1 += q2 * x1; c2 += q2 * x2; c3 += q2 * x3;
        d0 += q3 * x0; d1 += q3 * x1; d2 += q3 * x2; d3 += q3 * x3;
      }
      const r0 = o * Pp + p, r1 = r0 + Pp, r2 = r1 + Pp, r3 = r2 + Pp;
      acc[r0] = a0; acc[r0 + 1] = a1; acc[r0 + 2] = a2; acc[r0 + 3] = a3;
      acc[r1] = b0; acc[r1 + 1] = b1; acc[r1 + 2] = b2; acc[r1 + 3] = b3;
      acc[r2] = c0; acc[r2 + 1] = c1; acc[r2 + 2] = c2; acc[r2 + 3] = c3;
      acc[r3] = d0; acc[r3 + 1] = d1; acc[r3 + 2] = d2; acc[r3 + 3] = d3;
    }
  }
  for (let o = 0; o < outC; o++) {
    const bias = b[o];
    for (let p = 0, from = o * Pp, to = o * P; p < P; p++) out[to + p] = acc[from + p] + bias;
  }
  return out;
}

/**
 * 2-D convolution (PyTorch's Conv2d: cross-correlation, zero padding, groups 1, dilation 1).
 * out[o, y, x] = bias[o] + sum over c, i, j of weight[o, c, i, j] * input[c, y*sh + i - ph, x*sw + j - pw]
 * which is convAt(...).total at every pixel; `bias` may be null (a convolution without bias).
 * (A model plans its convolutions once and reuses every array: model.js, conv2dInto.)
 */
export function conv2d(input, weight, bias, options = {}) {
  const plan = convPlan(input.shape, weight, bias, options);
  const out = tensor(plan.shape);
  conv2dInto(plan, input.data, out.data, convScratch([plan]));
  return out;
}

/**
 * The convolution at one output pixel, written out (the Inside tab's detail view): what the
 * kernel of `outChannel` lies on at (y, x), the products, their sum per input channel, the bias
 * and the total, which equals conv2d(...)[outChannel, y, x]. Padding reads as 0.
 * Arrays `inputs`, `weights`, `products` are [inChannels][kh][kw] flattened.
 */
export function convAt(input, weight, bias, outChannel, y, x, { stride = 1, padding = 0 } = {}) {
  const [inC, inH, inW] = input.shape;
  const [, , kh, kw] = weight.shape;
  const [sh, sw] = pair(stride);
  const [ph, pw] = pair(padding);
  const n = inC * kh * kw;
  const inputs = new Float32Array(n);
  const weights = weight.data.slice(outChannel * n, (outChannel + 1) * n);
  const products = new Float64Array(n);
  const perChannel = new Float64Array(inC);
  for (let c = 0; c < inC; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        const iy = y * sh + i - ph;
        const ix = x * sw + j - pw;
        const k = (c * kh + i) * kw + j;
        inputs[k] = iy >= 0 && iy < inH && ix >= 0 && ix < inW ? input.data[(c * inH + iy) * inW + ix] : 0;
        products[k] = inputs[k] * weights[k];
        perChannel[c] += products[k];
      }
    }
  }
  const b = bias ? bias[outChannel] : 0;
  const total = perChannel.reduce((a, v) => a + v, b);
  return { inputs, weights, products, perChannel, bias: b, total };
}

/**
 * Batch norm in eval mode, as a per-channel scale and shift: y = x * scale[c] + shift[c], where
 * scale = gamma / sqrt(runningVar + eps) and shift = beta - runningMean * scale (the exporter
 * computes them). Works on images (one value per channel) and vectors (one per unit).
 */
export function batchNorm(input, scale, shift) {
  const out = tensor(input.shape);
  const channels = input.shape[0];
  const per = input.data.length / channels;
  for (let c = 0; c < channels; c++) {
    for (let k = c * per; k < (c + 1) * per; k++) out.data[k] = input.data[k] * scale[c] + shift[c];
  }
  return out;
}

/** Fold an eval-mode batch norm (scale, shift per output channel) into the layer before it:
 * weight rows scaled by scale[o], bias -> bias * scale + shift. Returns { weight, bias } (new arrays). */
export function foldBatchNorm(weight, bias, scale, shift) {
  const outC = weight.shape[0];
  const per = weight.data.length / outC;
  const w = new Float32Array(weight.data.length);
  const b = new Float32Array(outC);
  for (let o = 0; o < outC; o++) {
    for (let k = o * per; k < (o + 1) * per; k++) w[k] = weight.data[k] * scale[o];
    b[o] = (bias ? bias[o] : 0) * scale[o] + shift[o];
  }
  return { weight: tensor(weight.shape, w), bias: b };
}

/** Output shape of a pooling layer over an input of shape [c, h, w]. */
export function poolShape([c, inH, inW], { kernel, stride, padding = 0 }) {
  const [kh, kw] = pair(kernel);
  const [sh, sw] = pair(stride ?? kernel);
  const [ph, pw] = pair(padding);
  return [c, outputSize(inH, kh, sh, ph), outputSize(inW, kw, sw, pw)];
}

/**
 * Pooling over kernel x kernel windows (PyTorch's MaxPool2d / AvgPool2d, ceil_mode off) of `x`
 * (shape `inShape`) into `out`. Max pooling ignores padding (NaN wins, as in PyTorch); average
 * pooling counts padded cells as zeros (count_include_pad=True) unless countPadding is false,
 * dividing by the window clipped to the padded input, as PyTorch does.
 */
export function poolInto(x, inShape, out, { kernel, stride, padding = 0 }, max, countPadding = true) {
  const [c, inH, inW] = inShape;
  const [kh, kw] = pair(kernel);
  const [sh, sw] = pair(stride ?? kernel);
  const [ph, pw] = pair(padding);
  const outH = outputSize(inH, kh, sh, ph);
  const outW = outputSize(inW, kw, sw, pw);
  for (let ch = 0, to = 0; ch < c; ch++) {
    const plane = ch * inH * inW;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * sh - ph;
      const ya = Math.max(y0, 0), yb = Math.min(y0 + kh, inH);
      for (let ox = 0; ox < outW; ox++, to++) {
        const x0 = ox * sw - pw;
        const xa = Math.max(x0, 0), xb = Math.min(x0 + kw, inW);
        if (max) {
          let best = -Infinity;
          for (let iy = ya; iy < yb; iy++) {
            for (let ix = xa, at = plane + iy * inW + xa; ix < xb; ix++, at++) {
              const v = x[at];
              if (v > best || v !== v) best = v;
            }
          }
          out[to] = best;
        } else {
          let sum = 0;
          for (let iy = ya; iy < yb; iy++) {
            for (let ix = xa, at = plane + iy * inW + xa; ix < xb; ix++, at++) sum += x[at];
          }
          const padded = (Math.min(y0 + kh, inH + ph) - y0) * (Math.min(x0 + kw, inW + pw) - x0);
          out[to] = sum / (countPadding ? padded : (yb - ya) * (xb - xa));
        }
      }
    }
  }
  return out;
}

/** Max pooling: the largest value in each window. */
export function maxPool2d(input, { kernel, stride = kernel, padding = 0 }) {
  const out = tensor(poolShape(input.shape, { kernel, stride, padding }));
  poolInto(input.data, input.shape, out.data, { kernel, stride, padding }, true);
  return out;
}

/** Average pooling: the mean of each window (padding counted as zeros unless countPadding is false). */
export function avgPool2d(input, { kernel, stride = kernel, padding = 0, countPadding = true }) {
  const out = tensor(poolShape(input.shape, { kernel, stride, padding }));
  poolInto(input.data, input.shape, out.data, { kernel, stride, padding }, false, countPadding);
  return out;
}

/** An image [C, H, W] -> a vector [C*H*W] (the same numbers in the same order, as nn.Flatten). */
export function flatten(input) {
  return tensor([input.data.length], input.data);
}

/** An activation applied to every value: f is a function on one number. */
export function map(input, f) {
  const out = tensor(input.shape);
  for (let k = 0; k < input.data.length; k++) out.data[k] = f(input.data[k]);
  return out;
}
