// A whole network, forward only: the layer list that cnnlab/core/nets/webexport.py exported, run in order.
//
//   const { header, blob } = await fetchWeights(url);        // weights.js
//   const model = loadModel(header, blob);
//   const run = forward(model, toInput(model, seen));         // seen: the 28x28 grey image
//   const work = makeWork(model);                             // a page's buffers, made once ...
//   forward(model, toInput(model, seen, work.input), work);   // ... and reused every frame
//   run.probs          // Float32Array, one probability per class (calibrated: logits / temperature)
//   run.layers         // [{ name, kind, shape, data }]: the input, every layer's output, the softmax
//
// Layers (kind): conv (batch norm folded in where the network had one after it), dense, batchnorm
// (one that follows no conv or dense layer), relu, sigmoid, tanh, leakyrelu, maxpool, avgpool,
// flatten. Dropout does nothing when a model answers, so the exporter leaves it out.

import { conv2dInto, convAt, convPlan, convScratch, poolInto, poolShape, tensor } from "./conv.js";
import { ACTIVATIONS, linear, softmax } from "./dense.js";
import { readTensor } from "./weights.js";

const FORMAT = "cnnlab-web";

/** A model from the exported header (parsed JSON) and blob (ArrayBuffer of the tensors). */
export function loadModel(header, blob) {
  if (header.format !== FORMAT || header.format_version !== 1) {
    throw new Error(`loadModel: not a ${FORMAT} version 1 file`);
  }
  const read = (entry) => (entry ? readTensor(blob, entry) : null);
  const layers = header.layers.map((spec) => ({
    ...spec,
    weight: spec.weight ? tensor(spec.weight.shape, read(spec.weight)) : null,
    bias: read(spec.bias),
    scale: read(spec.scale),
    shift: read(spec.shift),
  }));
  return {
    header,
    layers,
    classes: header.classes,
    inputShape: [header.channels, header.input_size, header.input_size],
    mean: header.mean,
    std: header.std,
    temperature: header.temperature ?? 1,
    mirror: Boolean(header.mirror),
    plans: plan(layers, [header.channels, header.input_size, header.input_size]),
  };
}

/** Each layer's output shape, and for convolutions and dense layers their weights made ready
 * (convPlan; dense weights as float64, exact copies), done once per model. */
function plan(layers, inputShape) {
  let shape = inputShape;
  return layers.map((layer) => {
    const inShape = shape;
    let conv = null;
    let dense = null;
    if (layer.kind === "conv") {
      conv = convPlan(inShape, layer.weight, layer.bias, layer);
      shape = conv.shape;
    } else if (layer.kind === "dense") {
      dense = Float64Array.from(layer.weight.data);
      shape = [layer.weight.shape[0]];
    } else if (layer.kind === "maxpool" || layer.kind === "avgpool") {
      shape = poolShape(inShape, layer);
    } else if (layer.kind === "flatten") {
      shape = [shape.reduce((a, b) => a * b, 1)];
    }
    return { inShape, shape, conv, dense };
  });
}

/**
 * Every array one forward pass needs, to be made once and passed to forward() frame after frame
 * (no allocation per frame): the input, each layer's output, the im2col scratch, the softmax.
 * The arrays of a run are overwritten by the next run with the same work.
 */
export function makeWork(model) {
  const size = (shape) => shape.reduce((a, b) => a * b, 1);
  const outputs = model.plans.map((p, k) => (model.layers[k].kind === "flatten" ? null : new Float32Array(size(p.shape))));
  const classes = size(model.plans.length ? model.plans[model.plans.length - 1].shape : model.inputShape);
  return {
    input: new Float32Array(size(model.inputShape)),
    outputs,
    scratch: convScratch(model.plans.filter((p) => p.conv).map((p) => p.conv)),
    answer: new Float32Array(classes),
    scaled: new Float32Array(classes),
    probs: new Float32Array(classes),
    mirror: null,                    // a second set for the mirror image (made when needed)
  };
}

/** Grey levels 0-255 (one image, [C][H][W]) -> the model's input: (x / 255 - mean[c]) / std[c]. */
export function toInput(model, pixels, out) {
  const [c, h, w] = model.inputShape;
  out = out || new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let k = ch * h * w; k < (ch + 1) * h * w; k++) out[k] = (pixels[k] / 255 - model.mean[ch]) / model.std[ch];
  }
  return out;
}

/** x -> out (Float32Arrays of one size) through an activation: one loop per kind (the hot loops
 * stay simple), the same f as dense.js's ACTIVATIONS (relu of NaN is 0, as there). */
function activateInto(kind, x, out, slope) {
  const n = x.length;
  if (kind === "relu") {
    for (let k = 0; k < n; k++) { const v = x[k]; out[k] = v > 0 ? v : 0; }
  } else if (kind === "leakyrelu") {
    for (let k = 0; k < n; k++) { const v = x[k]; out[k] = v > 0 ? v : v * slope; }
  } else if (kind === "sigmoid") {
    for (let k = 0; k < n; k++) out[k] = 1 / (1 + Math.exp(-x[k]));
  } else if (kind === "tanh") {
    for (let k = 0; k < n; k++) out[k] = Math.tanh(x[k]);
  } else if (kind in ACTIVATIONS) {
    const f = ACTIVATIONS[kind].f;
    for (let k = 0; k < n; k++) out[k] = f(x[k]);
  } else {
    throw new Error(`the engine has no ${kind} layer`);
  }
  return out;
}

/** Layer `k` of the model on x (Float32Array, the layer's input shape) into out; returns its output
 * (for flatten: x itself, the same numbers in the same order, as nn.Flatten). */
function layerInto(model, k, x, out, scratch) {
  const layer = model.layers[k];
  const p = model.plans[k];
  switch (layer.kind) {
    case "conv":
      return conv2dInto(p.conv, x, out, scratch);
    case "dense": {
      const [outF, inF] = layer.weight.shape;
      return linear(x, p.dense, layer.bias, inF, outF, out);
    }
    case "batchnorm": {
      const { scale, shift } = layer;
      const per = x.length / p.inShape[0];
      for (let c = 0; c < p.inShape[0]; c++) {
        const s = scale[c], t = shift[c];
        for (let i = c * per; i < (c + 1) * per; i++) out[i] = x[i] * s + t;
      }
      return out;
    }
    case "maxpool":
    case "avgpool":
      return poolInto(x, p.inShape, out, layer, layer.kind === "maxpool", layer.count_padding ?? true);
    case "flatten":
      return x;
    default:
      return activateInto(layer.kind, x, out, layer.slope);
  }
}

/** One layer's output for input tensor x (a new tensor). */
export function runLayer(layer, x) {
  const model = { layers: [layer], plans: plan([layer], x.shape) };
  const p = model.plans[0];
  const out = layer.kind === "flatten" ? null : new Float32Array(p.shape.reduce((a, b) => a * b, 1));
  const scratch = p.conv ? convScratch([p.conv]) : null;
  return tensor(p.shape, layerInto(model, 0, x.data, out, scratch));
}

/** Mirror an image left to right (every channel) into out. */
function mirrored(input, [c, h, w], out) {
  for (let row = 0; row < c * h; row++) {
    for (let x = 0; x < w; x++) out[row * w + x] = input[row * w + w - 1 - x];
  }
  return out;
}

/** The logits of one input through every layer, into work's arrays (the last layer's output). */
function logitsInto(model, input, work) {
  let x = input;
  for (let k = 0; k < model.layers.length; k++) {
    x = layerInto(model, k, x, work.outputs[k], work.scratch);
    if (work.outputs[k] === null) work.outputs[k] = x;       // flatten: its input's array
  }
  return x;
}

/**
 * The forward pass for one input (a Float32Array, [C][H][W], normalised: see toInput).
 * Returns { logits, probs, layers }: layers[0] is the input, then one entry per model layer
 * (its output), then the softmax; each { name, kind, shape, data }.
 * `work` (makeWork) holds every array and is reused from call to call: a run's arrays stay valid
 * until the next forward with the same work. Without it, new arrays are made.
 */
export function forward(model, input, work = makeWork(model)) {
  for (let k = 0; k < model.layers.length; k++) if (model.layers[k].kind === "flatten") work.outputs[k] = null;
  const logits = logitsInto(model, input, work);
  const answer = work.answer;
  if (model.mirror) {               // the checkpoint answers with the mean of the picture and its mirror image
    const m = (work.mirror = work.mirror || makeWork(model));
    const other = logitsInto(model, mirrored(input, model.inputShape, m.input), m);
    for (let k = 0; k < answer.length; k++) answer[k] = (logits[k] + other[k]) / 2;
  } else {
    answer.set(logits);
  }
  const scaled = work.scaled;
  for (let k = 0; k < answer.length; k++) scaled[k] = answer[k] / model.temperature;
  softmax(scaled, work.probs);
  const layers = [{ name: "input", kind: "input", shape: model.inputShape, data: input }];
  model.layers.forEach((layer, k) => {
    layers.push({ name: layer.name, kind: layer.kind, shape: model.plans[k].shape, data: work.outputs[k] });
  });
  layers.push({ name: "softmax", kind: "softmax", shape: [work.probs.length], data: work.probs });
  return { logits: model.mirror ? answer : logits, probs: work.probs, layers };
}

/**
 * The multiply-and-add behind one value of a convolution layer's map (the Inside tab's detail):
 * convAt on the layer's real input and weights, plus the activation of the total when the next
 * layer is one. `run` is what forward returned; `name` the conv layer's name.
 */
export function convDetail(model, run, name, channel, y, x) {
  const index = model.layers.findIndex((layer) => layer.name === name);
  const layer = model.layers[index];
  if (!layer || layer.kind !== "conv") throw new Error(`${name} is not a convolution`);
  const input = run.layers[index];                     // run.layers[0] is the input: shifted by one
  const detail = convAt(input, layer.weight, layer.bias, channel, y, x, layer);
  const next = model.layers[index + 1];
  const after = next && (next.kind in ACTIVATIONS || next.kind === "leakyrelu")
    ? runLayer(next, tensor([1], Float32Array.of(detail.total))).data[0] : null;
  return { ...detail, after, afterKind: after === null ? null : next.kind };
}
