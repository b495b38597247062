// A checkpoint's weights as the server sends them (cnnlab/core/nets/webexport.py writes them):
//
//   bytes 0-3   the header's length in bytes, an unsigned 32-bit little-endian integer
//   then        the header: UTF-8 JSON (the layer list, shapes, normalisation, class names, and
//               for each tensor its byte offset, shape and dtype)
//   then        zero bytes up to a multiple of 4
//   then        the blob: every tensor, little-endian float16 or float32, each at its offset
//               (counted from the blob's first byte, a multiple of 4)
//
// The browser keeps one copy per checkpoint digest: the URL carries the digest, so the HTTP cache
// serves it again until the model changes.

/** Split a downloaded file into { header, blob } (blob: an ArrayBuffer of the tensors). */
export function unpack(arrayBuffer) {
  const view = new DataView(arrayBuffer);
  const length = view.getUint32(0, true);
  if (8 + length > arrayBuffer.byteLength) throw new Error("weights: the file is shorter than its header says");
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(arrayBuffer, 4, length)));
  const start = Math.ceil((4 + length) / 4) * 4;
  return { header, blob: arrayBuffer.slice(start) };
}

/** GET a weights file and unpack it. `fetchFn` defaults to the browser's fetch. */
export async function fetchWeights(url, fetchFn = globalThis.fetch) {
  const response = await fetchFn(url);
  if (!response.ok) throw new Error(`weights: ${url} answered ${response.status}`);
  return unpack(await response.arrayBuffer());
}

/** One IEEE 754 half-precision number (its 16 bits) as a JS number. */
export function halfToFloat(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;                // zero and subnormals
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float16 bits (a Uint16Array) -> Float32Array (every half fits a float32 exactly). */
export function decodeFloat16(halves) {
  const out = new Float32Array(halves.length);
  for (let k = 0; k < halves.length; k++) out[k] = halfToFloat(halves[k]);
  return out;
}

const BYTES = { float16: 2, float32: 4 };

/** One tensor of the blob, described in the header as { offset, shape, dtype }, as a Float32Array. */
export function readTensor(blob, { offset, shape, dtype }) {
  const count = shape.reduce((a, b) => a * b, 1);
  if (!(dtype in BYTES)) throw new Error(`weights: unknown dtype ${dtype}`);
  if (offset % 4 !== 0 || offset + count * BYTES[dtype] > blob.byteLength) {
    throw new Error(`weights: a tensor at byte ${offset} lies outside the file`);
  }
  // Typed arrays read the machine's byte order; every phone and laptop is little-endian.
  if (dtype === "float32") return new Float32Array(blob.slice(offset, offset + 4 * count));
  return decodeFloat16(new Uint16Array(blob, offset, count));
}
