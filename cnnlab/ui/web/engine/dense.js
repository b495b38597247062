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
// f(x) on a number; df(x, y) is f'(x), given y = f(x) as well (sigmoid and tanh read it from y);
// dy(y) is the same f'(x) from the output alone, which is all the batched backward keeps.
export const ACTIVATIONS = {
  relu: { f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0), dy: (y) => (y > 0 ? 1 : 0) },  // 0 at x = 0, as PyTorch
  sigmoid: { f: (x) => 1 / (1 + Math.exp(-x)), df: (x, y) => y * (1 - y), dy: (y) => y * (1 - y) },
  tanh: { f: (x) => Math.tanh(x), df: (x, y) => 1 - y * y, dy: (y) => 1 - y * y },
  linear: { f: (x) => x, df: () => 1, dy: () => 1 },
};

/** Softmax of an array of logits, stable (the largest logit is subtracted first); into `out` when given. */
export function softmax(logits, out) {
  const n = logits.length;
  const p = out || new Float32Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i] > m) m = logits[i];
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logits[i] - m);
  for (let i = 0; i < n; i++) p[i] = Math.exp(logits[i] - m) / s;
  return p;
}

// ------------------------------------------------------------------ a multi-layer perceptron, batched
// A net is { sizes: [inputs, hidden..., outputs], activation, W: [Float32Array], b: [Float32Array] }:
// layer l maps sizes[l] -> sizes[l + 1] with W[l] row-major [sizes[l + 1]][sizes[l]]. Every hidden
// layer is linear + the activation; the last is linear only (logits, or the regression value),
// exactly cnnlab.playground.Net. A batch is row-major too: X is Float32Array(n * sizes[0]).

/** A net of zeros with these layer sizes (net.js fills it as PyTorch's nn.Linear does). */
export function createMLP(sizes, activation = 'relu') {
  if (!ACTIVATIONS[activation]) throw new Error(`unknown activation "${activation}"`);
  const W = [];
  const b = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    W.push(new Float32Array(sizes[l + 1] * sizes[l]));
    b.push(new Float32Array(sizes[l + 1]));
  }
  return { sizes: [...sizes], activation, W, b };
}

/** The net's tensors in PyTorch's `net.parameters()` order: W0, b0, W1, b1, ... */
export function parameters(net) {
  const out = [];
  for (let l = 0; l < net.W.length; l++) out.push(net.W[l], net.b[l]);
  return out;
}

/** A copy of the net (its own arrays). */
export function cloneMLP(net) {
  return { sizes: [...net.sizes], activation: net.activation, W: net.W.map((w) => w.slice()),
    b: net.b.map((v) => v.slice()) };
}

/** Buffers for batches of up to n rows, reused step after step (no garbage while playing):
 *  acts[0] is the input, acts[l] layer l's output (after the activation; the last: the output);
 *  grads are the parameters' gradients in `parameters()` order. */
export function makeWork(net, n) {
  const s = net.sizes;
  const L = s.length - 1;
  const acts = s.map((k) => new Float32Array(n * k));
  const delta = s.map((k) => new Float32Array(n * k));   // dLoss/d(pre-activation) of each layer
  const grads = [];
  for (let l = 0; l < L; l++) grads.push(new Float32Array(s[l + 1] * s[l]), new Float32Array(s[l + 1]));
  return { n, acts, delta, grads };
}

function ensureWork(net, n, work) {
  if (work && work.n >= n && work.acts.length === net.sizes.length &&
      work.acts.every((a, l) => a.length >= n * net.sizes[l])) return work;
  return makeWork(net, n);
}

/** Apply the activation to the first m values of Z, in place (one loop per activation: the hot
 *  loops stay monomorphic, whichever activations other nets use). */
export function activate(Z, m, activation) {
  if (activation === 'relu') {
    for (let i = 0; i < m; i++) if (!(Z[i] > 0)) Z[i] = 0;
  } else if (activation === 'tanh') {
    for (let i = 0; i < m; i++) Z[i] = Math.tanh(Z[i]);
  } else if (activation === 'sigmoid') {
    for (let i = 0; i < m; i++) Z[i] = 1 / (1 + Math.exp(-Z[i]));
  } else if (activation !== 'linear') {
    const f = ACTIVATIONS[activation].f;
    for (let i = 0; i < m; i++) Z[i] = f(Z[i]);
  }
  return Z;
}

/** P *= f'(z), from the activation's outputs Y (first m values), in place. */
function timesDerivative(P, Y, m, activation) {
  if (activation === 'relu') {
    for (let i = 0; i < m; i++) if (!(Y[i] > 0)) P[i] = 0;
  } else if (activation === 'tanh') {
    for (let i = 0; i < m; i++) P[i] = P[i] * (1 - Y[i] * Y[i]);
  } else if (activation === 'sigmoid') {
    for (let i = 0; i < m; i++) P[i] = P[i] * (Y[i] * (1 - Y[i]));
  } else if (activation !== 'linear') {
    const dy = ACTIVATIONS[activation].dy;
    for (let i = 0; i < m; i++) P[i] = P[i] * dy(Y[i]);
  }
  return P;
}

/** Z = A W^T + b for n rows (A: n * inF, Z: n * outF): four outputs at a time share each input
 *  (about twice as fast in V8); each output still sums its inputs in order, in float64, and is
 *  rounded to float32 once when stored, as PyTorch's Linear output. */
function linearRows(A, W, B, Z, n, inF, outF) {
  for (let r = 0; r < n; r++) {
    const x = r * inF;
    const z0 = r * outF;
    let o = 0;
    for (; o + 4 <= outF; o += 4) {
      let z1 = B[o];
      let z2 = B[o + 1];
      let z3 = B[o + 2];
      let z4 = B[o + 3];
      const w1 = o * inF;
      const w2 = w1 + inF;
      const w3 = w2 + inF;
      const w4 = w3 + inF;
      for (let i = 0; i < inF; i++) {
        const v = A[x + i];
        z1 += W[w1 + i] * v;
        z2 += W[w2 + i] * v;
        z3 += W[w3 + i] * v;
        z4 += W[w4 + i] * v;
      }
      Z[z0 + o] = z1;
      Z[z0 + o + 1] = z2;
      Z[z0 + o + 2] = z3;
      Z[z0 + o + 3] = z4;
    }
    for (; o < outF; o++) {
      let z = B[o];
      const w = o * inF;
      for (let i = 0; i < inF; i++) z += W[w + i] * A[x + i];
      Z[z0 + o] = z;
    }
  }
  return Z;
}

/** Forward n rows of X through the net. Returns the work whose acts[] hold every layer's
 *  output; the net's output is acts[acts.length - 1] (n * outputs). */
export function forwardBatch(net, X, n, work) {
  work = ensureWork(net, n, work);
  const s = net.sizes;
  const L = s.length - 1;
  const a0 = work.acts[0];
  for (let i = 0, m = n * s[0]; i < m; i++) a0[i] = X[i];
  for (let l = 0; l < L; l++) {
    const inF = s[l];
    const outF = s[l + 1];
    const A = work.acts[l];
    const Z = work.acts[l + 1];
    const W = net.W[l];
    const B = net.b[l];
    linearRows(A, W, B, Z, n, inF, outF);
    if (l < L - 1) activate(Z, n * outF, net.activation);
  }
  return work;
}

// ------------------------------------------------------------------ losses (mean over the batch)
/** torch.nn.MSELoss(): mean of (out - target)^2 over all n * k values. Writes dLoss/dout into
 *  grad (when given) and returns the loss. */
export function mseLoss(out, target, n, k, grad) {
  const m = n * k;
  let s = 0;
  for (let i = 0; i < m; i++) {
    const d = Math.fround(out[i] - target[i]);
    s += d * d;
    if (grad) grad[i] = (2 / m) * d;
  }
  return Math.fround(s / m);
}

/** torch.nn.CrossEntropyLoss() on logits (n * k) and class indices: mean of -log softmax[label].
 *  The playground's classification, two classes or more, as today (k outputs, not one sigmoid).
 *  Writes dLoss/dlogits (softmax - one-hot) / n into grad (when given); returns the loss. */
export function crossEntropyLoss(logits, labels, n, k, grad) {
  let total = 0;
  for (let r = 0; r < n; r++) {
    const at = r * k;
    let m = -Infinity;
    for (let j = 0; j < k; j++) if (logits[at + j] > m) m = logits[at + j];
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[at + j] - m);
    const logSum = Math.log(sum);
    const y = labels[r];
    total -= logits[at + y] - m - logSum;
    if (grad) {
      for (let j = 0; j < k; j++) {
        const p = Math.exp(logits[at + j] - m - logSum);
        grad[at + j] = (p - (j === y ? 1 : 0)) / n;
      }
    }
  }
  return Math.fround(total / n);
}

// ------------------------------------------------------------------ backward
/** Backpropagate dLoss/dout (work.delta[last], filled by a loss) through the net after
 *  forwardBatch(net, X, n, work); the parameters' gradients land in work.grads (overwritten). */
export function backwardBatch(net, n, work) {
  const s = net.sizes;
  const L = s.length - 1;
  let acc = work.acc;
  const most = Math.max(...s.slice(1).map((k, l) => k * s[l]));
  if (!acc || acc.length < most) acc = work.acc = new Float64Array(most);
  for (let l = L - 1; l >= 0; l--) {
    const inF = s[l];
    const outF = s[l + 1];
    const D = work.delta[l + 1];          // dLoss / d(this layer's pre-activation), n * outF
    const A = work.acts[l];               // this layer's input, n * inF
    const gW = work.grads[2 * l];
    const gB = work.grads[2 * l + 1];
    // dW = D^T A and db = the sum of D over the batch, summed in float64 row by row, then rounded once
    acc.fill(0, 0, outF * inF);
    for (let o = 0; o < outF; o++) gB[o] = 0;
    const bias = work.accB || (work.accB = new Float64Array(Math.max(...s)));
    bias.fill(0, 0, outF);
    let r = 0;
    for (; r + 4 <= n; r += 4) {          // four rows at a time: each sum is read and written once
      const d0 = r * outF;
      const a0 = r * inF;
      for (let o = 0; o < outF; o++) {
        const da = D[d0 + o];
        const db = D[d0 + outF + o];
        const dc = D[d0 + 2 * outF + o];
        const dd = D[d0 + 3 * outF + o];
        if (da === 0 && db === 0 && dc === 0 && dd === 0) continue;   // units ReLU turned off
        bias[o] += da + db + dc + dd;
        const row = o * inF;
        for (let i = 0; i < inF; i++) {
          const a = a0 + i;
          acc[row + i] += da * A[a] + db * A[a + inF] + dc * A[a + 2 * inF] + dd * A[a + 3 * inF];
        }
      }
    }
    for (; r < n; r++) {
      const d0 = r * outF;
      const a0 = r * inF;
      for (let o = 0; o < outF; o++) {
        const d = D[d0 + o];
        if (d === 0) continue;            // a unit ReLU turned off: nothing to add
        bias[o] += d;
        const row = o * inF;
        for (let i = 0; i < inF; i++) acc[row + i] += d * A[a0 + i];
      }
    }
    for (let j = 0, m = outF * inF; j < m; j++) gW[j] = acc[j];
    for (let o = 0; o < outF; o++) gB[o] = bias[o];
    if (l === 0) break;
    const W = net.W[l];                   // the layer below: D_prev = (D W) * f'(z_prev)
    const P = work.delta[l];
    for (let r = 0; r < n; r++) {
      const d0 = r * outF;
      const p0 = r * inF;
      let i = 0;
      for (; i + 4 <= inF; i += 4) {        // four inputs at a time share each D (as linearRows)
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        let s4 = 0;
        for (let o = 0; o < outF; o++) {
          const d = D[d0 + o];
          const w = o * inF + i;
          s1 += d * W[w];
          s2 += d * W[w + 1];
          s3 += d * W[w + 2];
          s4 += d * W[w + 3];
        }
        P[p0 + i] = s1;                     // rounded to float32, then times f'
        P[p0 + i + 1] = s2;
        P[p0 + i + 2] = s3;
        P[p0 + i + 3] = s4;
      }
      for (; i < inF; i++) {
        let sum = 0;
        for (let o = 0; o < outF; o++) sum += D[d0 + o] * W[o * inF + i];
        P[p0 + i] = sum;
      }
    }
    timesDerivative(P, A, n * inF, net.activation);
  }
  return work.grads;
}

/** L1 or L2 of the weights (not the biases) times rate, as cnnlab.playground.penalty; adds its
 *  gradient (rate * sign(w), or rate * 2w) to grads (parameters() order) when given. */
export function regularize(net, kind, rate, grads) {
  if (kind === 'none' || !kind || !rate) return 0;
  const r = Math.fround(rate);
  let total = 0;
  for (let l = 0; l < net.W.length; l++) {
    const W = net.W[l];
    const g = grads ? grads[2 * l] : null;
    let s = 0;
    for (let i = 0; i < W.length; i++) {
      const w = W[i];
      if (kind === 'L1') {
        s += Math.abs(w);
        if (g) g[i] = g[i] + r * Math.sign(w);
      } else {
        s += w * w;
        if (g) g[i] = g[i] + Math.fround(r * Math.fround(2 * w));
      }
    }
    total += Math.fround(s);
  }
  return Math.fround(r * total);
}

/** One batch's loss and gradients: the forward pass, the loss ('mse' with targets Y (n * outputs),
 *  'ce' with class indices Y (n)), backward, and the penalty. Returns { loss (data loss + penalty,
 *  what PyTorch's loss.item() reports), dataLoss, grads (parameters() order), work }. */
export function lossAndGrad(net, X, Y, n, opts = {}, work) {
  work = forwardBatch(net, X, n, work);
  const L = net.sizes.length - 1;
  const k = net.sizes[L];
  const out = work.acts[L];
  const dOut = work.delta[L];
  const dataLoss = opts.loss === 'ce' ? crossEntropyLoss(out, Y, n, k, dOut) : mseLoss(out, Y, n, k, dOut);
  backwardBatch(net, n, work);
  const pen = regularize(net, opts.regularization, opts.regRate, work.grads);
  return { loss: Math.fround(dataLoss + pen), dataLoss, grads: work.grads, work };
}
