// Dense (fully connected) layers in plain JavaScript: the same maths as PyTorch's nn.Linear,
// F.relu / torch.sigmoid / torch.tanh and F.softmax, over Float32Arrays.
//
// Weights are row-major [outF][inF], exactly PyTorch's Linear.weight, so a state dict's arrays
// drop in as they are. Float32Array storage everywhere; sums run in float64 (a JS number) and are
// rounded once when stored, which keeps the result within float32 rounding of PyTorch's.

// ------------------------------------------------------------------ one layer, one input
/** y = W x + b. x: Float32Array(inF); W: Float32Array(outF * inF), row-major [outF][inF];
 *  b: Float32Array(outF) or null. Returns `out` (a new Float32Array(outF) when not given). */
export function linear(x, W, b, inF, outF, out) {
  const y = out || new Float32Array(outF);
  for (let o = 0; o < outF; o++) {
    let s = b ? b[o] : 0;
    const row = o * inF;
    for (let i = 0; i < inF; i++) s += W[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

// ------------------------------------------------------------------ activations
// f(x) on a number; df(x, y) is f'(x), given y = f(x) as well (sigmoid and tanh read it from y).
export const ACTIVATIONS = {
  relu: { f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0) },      // PyTorch: grad 0 at x = 0
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), df: (x, y) => y * (1 - y) },
  tanh: { f: (x) => Math.tanh(x), df: (x, y) => 1 - y * y },
  linear: { f: (x) => x, df: () => 1 },
};

/** Softmax of an array of logits, stable (the largest logit is subtracted first). */
export function softmax(logits) {
  const n = logits.length;
  const p = new Float32Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > m) m = logits[i];
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logits[i] - m);
  for (let i = 0; i < n; i++) p[i] = Math.exp(logits[i] - m) / s;
  return p;
}
