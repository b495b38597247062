// PyTorch's CPU random numbers in JavaScript: torch.Generator().manual_seed(seed) (an mt19937)
// and the ways torch turns its output into uniform floats, normal floats and permutations.
// With it, a seed gives the browser the same data, initial weights and batch order as the
// PyTorch code the page shows (cnnlab.playground.code_for): the uniform numbers and permutations
// exactly, the normal numbers to float32 rounding (torch computes log/sin/cos in float32).

const N = 624;
const M = 397;
const TWO_PI = 2 * Math.PI;

export class TorchGenerator {
  /** torch.Generator().manual_seed(seed): mt19937 seeded with the low 32 bits of the seed. */
  constructor(seed = 67280421310721) {
    this.state = new Uint32Array(N);
    this.manualSeed(seed);
  }

  manualSeed(seed) {
    const s = this.state;
    s[0] = Number(BigInt.asUintN(32, BigInt(Math.trunc(seed))));
    for (let j = 1; j < N; j++) {
      const p = s[j - 1] ^ (s[j - 1] >>> 30);
      s[j] = (Math.imul(1812433253, p) + j) >>> 0;
    }
    this.index = N;
    this.nextDouble = null;                 // torch caches the second Box-Muller sample
    return this;
  }

  _twist() {
    const s = this.state;
    for (let i = 0; i < N; i++) {
      const y = (s[i] & 0x80000000) | (s[(i + 1) % N] & 0x7fffffff);
      s[i] = s[(i + M) % N] ^ (y >>> 1) ^ ((y & 1) ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  /** The next 32 random bits, as an unsigned integer (at::mt19937::operator()). */
  random() {
    if (this.index >= N) this._twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A double in [0, 1) from 53 random bits (torch's uniform_real_distribution<double>). */
  uniformDouble() {
    const hi = this.random();
    const lo = this.random();
    // (hi << 32 | lo) & (2^53 - 1), times 2^-53
    return ((hi & 0x1fffff) * 4294967296 + lo) / 9007199254740992;
  }

  /** tensor.uniform_(from, to) over `out` (torch.rand: from 0, to 1). 24 random bits each,
   *  x * (to - from) + from in float32, as torch does. */
  uniform(out, from = 0, to = 1) {
    const f = Math.fround(from);
    const range = Math.fround(Math.fround(to) - f);
    for (let i = 0; i < out.length; i++) {
      const x = (this.random() & 0xffffff) / 16777216;
      out[i] = Math.fround(x * range + f);       // one rounding: torch fuses this multiply-add
    }
    return out;
  }

  /** tensor.normal_(mean, std) over `out` (torch.randn: 0, 1). */
  normal(out, mean = 0, std = 1) {
    const n = out.length;
    const m = Math.fround(mean);
    const sd = Math.fround(std);
    if (n >= 16) {                       // torch's normal_fill: uniforms, then Box-Muller by 16
      this.uniform(out);
      for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i, m, sd);
      if (n % 16) {                      // the tail: the last 16 again, from fresh uniforms
        const tail = this.uniform(new Float32Array(16));
        out.set(tail, n - 16);
        boxMuller16(out, n - 16, m, sd);
      }
      return out;
    }
    for (let i = 0; i < n; i++) {        // small tensors: one double at a time, the pair cached
      let z;
      if (this.nextDouble !== null) {
        z = this.nextDouble;
        this.nextDouble = null;
      } else {
        const u1 = this.uniformDouble();
        const u2 = this.uniformDouble();
        const r = Math.sqrt(-2 * Math.log1p(-u2));
        const theta = TWO_PI * u1;
        this.nextDouble = r * Math.sin(theta);
        z = r * Math.cos(theta);
      }
      out[i] = Math.fround(z * std + mean);
    }
    return out;
  }

  /** torch.randperm(n, generator=g), as an Int32Array. */
  randperm(n) {
    const r = new Int32Array(n);
    for (let i = 0; i < n; i++) r[i] = i;
    for (let i = 0; i < n - 1; i++) {
      const z = this.random() % (n - i);
      const t = r[i];
      r[i] = r[z + i];
      r[z + i] = t;
    }
    return r;
  }
}

function boxMuller16(d, at, mean, std) {
  for (let j = 0; j < 8; j++) {
    const u1 = Math.fround(1 - d[at + j]);
    const u2 = d[at + j + 8];
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * Math.fround(Math.log(u1)))));
    const theta = Math.fround(Math.fround(TWO_PI) * u2);
    d[at + j] = Math.fround(Math.fround(radius * Math.fround(Math.cos(theta))) * std + mean);
    d[at + j + 8] = Math.fround(Math.fround(radius * Math.fround(Math.sin(theta))) * std + mean);
  }
}
