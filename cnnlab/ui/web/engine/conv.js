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
 * 2-D convolution (PyTorch's Conv2d: cross-correlation, zero padding, groups 1, dilation 1).
 * out[o, y, x] = bias[o] + sum over c, i, j of weight[o, c, i, j] * input[c, y*sh + i - ph, x*sw + j - pw]
 * which is convAt(...).total at every pixel; `bias` may be null (a convolution without bias).
 *
 * For speed it works on a zero-padded copy of the input and makes four output channels at two
 * neighbouring pixels at once: eight sums that do not wait on each other, each input value read
 * once for four weights and each weight once for two pixels (1.4x faster than one pixel at a time,
 * 3x faster than one channel at a time, in node).
 */
export function conv2d(input, weight, bias, { stride = 1, padding = 0 } = {}) {
  const [inC, inH, inW] = input.shape;
  const [outC, wC, kh, kw] = weight.shape;
  if (wC !== inC) throw new Error(`conv2d: weight expects ${wC} channels, input has ${inC}`);
  const [sh, sw] = pair(stride);
  const [ph, pw] = pair(padding);
  const outH = outputSize(inH, kh, sh, ph);
  const outW = outputSize(inW, kw, sw, pw);
  const out = tensor([outC, outH, outW]).data;
  const padded = pad(input, ph, pw);
  const x = padded.data;
  const rowLength = padded.shape[2];
  const w = weight.data;
  const biases = bias ?? new Float32Array(outC);
  // Where weight k of a kernel (k = (c * kh + i) * kw + j) finds its input, counted from the
  // window's top-left corner in the padded image.
  const perKernel = inC * kh * kw;
  const offsets = new Int32Array(perKernel);
  for (let c = 0, k = 0; c < inC; c++) {
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) offsets[k++] = (c * padded.shape[1] + i) * rowLength + j;
    }
  }
  const plane = outH * outW;
  const store = (channel, at, first, next, second) => {
    out[channel * plane + at] = first + biases[channel];
    if (second) out[channel * plane + at + 1] = next + biases[channel];
  };
  for (let o = 0; o < outC; o += 4) {
    // the kernels of channels o..o+3 (past the last channel: the last one again, not stored)
    const w0 = o * perKernel;
    const w1 = Math.min(o + 1, outC - 1) * perKernel;
    const w2 = Math.min(o + 2, outC - 1) * perKernel;
    const w3 = Math.min(o + 3, outC - 1) * perKernel;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox += 2) {
        const corner = oy * sh * rowLength + ox * sw;     // window of pixel ox; pixel ox + 1 is sw further
        const second = ox + 1 < outW ? sw : 0;            // (a last odd pixel: itself again, not stored)
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;               // pixel ox, channels o..o+3
        let b0 = 0, b1 = 0, b2 = 0, b3 = 0;               // pixel ox + 1
        for (let k = 0; k < perKernel; k++) {
          const u = x[corner + offsets[k]];
          const v = x[corner + offsets[k] + second];
          const q0 = w[w0 + k], q1 = w[w1 + k], q2 = w[w2 + k], q3 = w[w3 + k];
          a0 += q0 * u; a1 += q1 * u; a2 += q2 * u; a3 += q3 * u;
          b0 += q0 * v; b1 += q1 * v; b2 += q2 * v; b3 += q3 * v;
        }
        const at = oy * outW + ox;
        store(o, at, a0, b0, second);
        if (o + 1 < outC) store(o + 1, at, a1, b1, second);
        if (o + 2 < outC) store(o + 2, at, a2, b2, second);
        if (o + 3 < outC) store(o + 3, at, a3, b3, second);
      }
    }
  }
  return tensor([outC, outH, outW], out);
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

/**
 * Pooling over kernel x kernel windows (PyTorch's MaxPool2d / AvgPool2d, ceil_mode off).
 * `reduce(values, n, padded)` gets one window: its n values that lie inside the input, and the
 * window's size counting the padding it covers (PyTorch's divisor for average pooling). Max
 * pooling ignores padding; average pooling counts padded cells as zeros (count_include_pad=True)
 * unless countPadding is false.
 */
function pool(input, { kernel, stride, padding = 0 }, reduce) {
  const [c, inH, inW] = input.shape;
  const [kh, kw] = pair(kernel);
  const [sh, sw] = pair(stride ?? kernel);
  const [ph, pw] = pair(padding);
  const outH = outputSize(inH, kh, sh, ph);
  const outW = outputSize(inW, kw, sw, pw);
  const out = tensor([c, outH, outW]);
  const window = new Float64Array(kh * kw);
  for (let ch = 0; ch < c; ch++) {
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        let n = 0;
        for (let i = 0; i < kh; i++) {
          const iy = oy * sh + i - ph;
          if (iy < 0 || iy >= inH) continue;
          for (let j = 0; j < kw; j++) {
            const ix = ox * sw + j - pw;
            if (ix >= 0 && ix < inW) window[n++] = input.data[(ch * inH + iy) * inW + ix];
          }
        }
        // PyTorch's window for the divisor: clipped to the padded input, not to the input
        const y0 = oy * sh - ph;
        const x0 = ox * sw - pw;
        const padded = (Math.min(y0 + kh, inH + ph) - y0) * (Math.min(x0 + kw, inW + pw) - x0);
        out.data[(ch * outH + oy) * outW + ox] = reduce(window, n, padded);
      }
    }
  }
  return out;
}

/** Max pooling: the largest value in each window. */
export function maxPool2d(input, { kernel, stride = kernel, padding = 0 }) {
  return pool(input, { kernel, stride, padding }, (values, n) => {
    let best = -Infinity;
    for (let k = 0; k < n; k++) if (values[k] > best || Number.isNaN(values[k])) best = values[k];
    return best;
  });
}

/** Average pooling: the mean of each window (padding counted as zeros unless countPadding is false). */
export function avgPool2d(input, { kernel, stride = kernel, padding = 0, countPadding = true }) {
  return pool(input, { kernel, stride, padding }, (values, n, padded) => {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += values[k];
    return sum / (countPadding ? padded : n);
  });
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
