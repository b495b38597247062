// A whole network, forward only: the layer list that cnnlab/core/nets/webexport.py exported, run in order.
//
//   const { header, blob } = await fetchWeights(url);        // weights.js
//   const model = loadModel(header, blob);
//   const run = forward(model, toInput(model, seen));         // seen: the 28x28 grey image
//   run.probs          // Float32Array, one probability per class (calibrated: logits / temperature)
//   run.layers         // [{ name, kind, shape, data }]: the input, every layer's output, the softmax
//
// Layers (kind): conv (batch norm folded in where the network had one after it), dense, batchnorm
// (one that follows no conv or dense layer), relu, sigmoid, tanh, leakyrelu, maxpool, avgpool,
// flatten. Dropout does nothing when a model answers, so the exporter leaves it out.

import { avgPool2d, batchNorm, conv2d, convAt, flatten, map, maxPool2d, tensor } from "./conv.js";
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
  };
}

/** Grey levels 0-255 (one image, [C][H][W]) -> the model's input: (x / 255 - mean[c]) / std[c]. */
export function toInput(model, pixels) {
  const [c, h, w] = model.inputShape;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) {
    for (let k = ch * h * w; k < (ch + 1) * h * w; k++) out[k] = (pixels[k] / 255 - model.mean[ch]) / model.std[ch];
  }
  return out;
}

const leakyRelu = (slope) => (x) => (x > 0 ? x : x * slope);

/** One layer's output for input tensor x. */
export function runLayer(layer, x) {
  switch (layer.kind) {
    case "conv":
      return conv2d(x, layer.weight, layer.bias, layer);
    case "dense": {
      const [outF, inF] = layer.weight.shape;
      return tensor([outF], linear(x.data, layer.weight.data, layer.bias, inF, outF));
    }
    case "batchnorm":
      return batchNorm(x, layer.scale, layer.shift);
    case "maxpool":
      return maxPool2d(x, layer);
    case "avgpool":
      return avgPool2d(x, { ...layer, countPadding: layer.count_padding });
    case "flatten":
      return flatten(x);
    case "leakyrelu":
      return map(x, leakyRelu(layer.slope));
    default:
      if (layer.kind in ACTIVATIONS) return map(x, ACTIVATIONS[layer.kind].f);
      throw new Error(`the engine has no ${layer.kind} layer`);
  }
}

/** Mirror an image left to right (every channel). */
function mirrored(input, [c, h, w]) {
  const out = new Float32Array(input.length);
  for (let row = 0; row < c * h; row++) {
    for (let x = 0; x < w; x++) out[row * w + x] = input[row * w + w - 1 - x];
  }
  return out;
}

/**
 * The forward pass for one input (a Float32Array, [C][H][W], normalised: see toInput).
 * Returns { logits, probs, layers }: layers[0] is the input, then one entry per model layer
 * (its output), then the softmax; each { name, kind, shape, data }.
 */
export function forward(model, input) {
  let x = tensor(model.inputShape, input);
  const layers = [{ name: "input", kind: "input", shape: x.shape, data: x.data }];
  for (const layer of model.layers) {
    x = runLayer(layer, x);
    layers.push({ name: layer.name, kind: layer.kind, shape: x.shape, data: x.data });
  }
  const logits = x.data;
  let answer = logits;
  if (model.mirror) {               // the checkpoint answers with the mean of the picture and its mirror image
    let m = tensor(model.inputShape, mirrored(input, model.inputShape));
    for (const layer of model.layers) m = runLayer(layer, m);
    answer = logits.map((v, k) => (v + m.data[k]) / 2);
  }
  const probs = softmax(answer.map((v) => v / model.temperature));
  layers.push({ name: "softmax", kind: "softmax", shape: [probs.length], data: probs });
  return { logits: answer, probs, layers };
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
