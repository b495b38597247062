// The course's four optimizers in plain JavaScript, with PyTorch's update formulas
// (torch.optim's single-tensor CPU code, torch 2.x): the same order of operations, each tensor
// operation rounded to float32 as PyTorch stores it, so 200 steps stay within 1e-5 of PyTorch
// (tests/test_web_playground.py). No weight decay: the Playground regularises through its loss
// (L1 / L2 of the weights, engine/dense.js `regularize`), as cnnlab.playground does.
//
// An optimizer is { name, lr, step(grads) }: `params` and `grads` are arrays of Float32Arrays in
// the same order (engine/dense.js `parameters(net)` and `lossAndGrad(...).grads`); `step` updates
// the params in place. Change `lr` between steps as PyTorch's param_groups[0]['lr'].

const f32 = Math.fround;

/** The course's settings (cnnlab.playground.OPTIMIZERS): Momentum 0.8, RMSprop alpha 0.9,
 *  Adam betas (0.9, 0.99); PyTorch's defaults for the rest (eps 1e-8, no dampening). */
export const COURSE = {
  sgd: { label: 'SGD', code: 'torch.optim.SGD(net.parameters(), lr=LR)' },
  momentum: { label: 'Momentum', momentum: 0.8, code: 'torch.optim.SGD(net.parameters(), lr=LR, momentum=0.8)' },
  rmsprop: { label: 'RMSprop', alpha: 0.9, eps: 1e-8,
    code: 'torch.optim.RMSprop(net.parameters(), lr=LR, alpha=0.9)' },
  adam: { label: 'Adam', beta1: 0.9, beta2: 0.99, eps: 1e-8,
    code: 'torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.99))' },
};

/** torch.optim.SGD(params, lr): p -= lr * g. */
export function sgd(params, lr) {
  return {
    name: 'sgd', lr,
    step(grads) {
      const a = f32(-this.lr);
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        for (let i = 0; i < p.length; i++) p[i] = f32(p[i] + a * g[i]);   // add_(g, alpha=-lr), fused
      }
    },
  };
}

/** torch.optim.SGD(params, lr, momentum): buf = g at the first step, then buf = momentum * buf + g;
 *  p -= lr * buf (no dampening, not Nesterov). */
export function momentum(params, lr, mu = COURSE.momentum.momentum) {
  const bufs = params.map((p) => new Float32Array(p.length));
  let first = true;
  const m = f32(mu);
  return {
    name: 'momentum', lr, state: { bufs },
    step(grads) {
      const a = f32(-this.lr);
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const b = bufs[k];
        for (let i = 0; i < p.length; i++) {
          b[i] = first ? g[i] : f32(f32(b[i] * m) + g[i]);                 // mul_(momentum).add_(g)
          p[i] = f32(p[i] + a * b[i]);
        }
      }
      first = false;
    },
  };
}

/** torch.optim.RMSprop(params, lr, alpha): v = alpha * v + (1 - alpha) * g^2;
 *  p -= lr * g / (sqrt(v) + eps) (eps outside the square root, as PyTorch). */
export function rmsprop(params, lr, alpha = COURSE.rmsprop.alpha, eps = COURSE.rmsprop.eps) {
  const sq = params.map((p) => new Float32Array(p.length));
  const al = f32(alpha);
  const one = f32(1 - alpha);
  const e = f32(eps);
  return {
    name: 'rmsprop', lr, state: { squareAvg: sq },
    step(grads) {
      const a = f32(-this.lr);
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const v = sq[k];
        for (let i = 0; i < p.length; i++) {
          v[i] = f32(f32(v[i] * al) + f32(f32(one * g[i]) * g[i]));         // mul_(alpha).addcmul_(g, g, 1 - alpha)
          const avg = f32(f32(Math.sqrt(v[i])) + e);                           // sqrt().add_(eps)
          p[i] = f32(p[i] + f32(f32(a * g[i]) / avg));                         // addcdiv_(g, avg, value=-lr)
        }
      }
    },
  };
}

/** torch.optim.Adam(params, lr, betas, eps): m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2;
 *  p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). */
export function adam(params, lr, beta1 = COURSE.adam.beta1, beta2 = COURSE.adam.beta2, eps = COURSE.adam.eps) {
  const m = params.map((p) => new Float32Array(p.length));
  const v = params.map((p) => new Float32Array(p.length));
  const w = f32(1 - beta1);
  const b2 = f32(beta2);
  const one2 = f32(1 - beta2);
  const e = f32(eps);
  let t = 0;
  return {
    name: 'adam', lr, state: { expAvg: m, expAvgSq: v, get step() { return t; } },
    step(grads) {
      t += 1;
      const bc1 = 1 - beta1 ** t;                 // in double, as PyTorch's Python floats
      const bc2sqrt = f32(Math.sqrt(1 - beta2 ** t));
      const stepSize = f32(-(this.lr / bc1));
      for (let k = 0; k < params.length; k++) {
        const p = params[k];
        const g = grads[k];
        const mk = m[k];
        const vk = v[k];
        for (let i = 0; i < p.length; i++) {
          mk[i] = f32(mk[i] + w * f32(g[i] - mk[i]));                        // lerp_(g, 1 - beta1), fused
          vk[i] = f32(f32(vk[i] * b2) + f32(f32(one2 * g[i]) * g[i]));      // mul_(beta2).addcmul_(g, g, 1 - beta2)
          const denom = f32(f32(f32(Math.sqrt(vk[i])) / bc2sqrt) + e);        // (sqrt(v) / bc2_sqrt).add_(eps)
          p[i] = f32(p[i] + f32(f32(stepSize * mk[i]) / denom));              // addcdiv_(m, denom, -step_size)
        }
      }
    },
  };
}

const MAKERS = { sgd, momentum, rmsprop, adam };

/** One factory, the course's settings: makeOptimizer('adam', parameters(net), 0.01). */
export function makeOptimizer(name, params, lr) {
  const make = MAKERS[name];
  if (!make) throw new Error(`unknown optimizer "${name}" (one of ${Object.keys(MAKERS).join(', ')})`);
  return make(params, lr);
}

export const OPTIMIZER_NAMES = Object.keys(MAKERS);
