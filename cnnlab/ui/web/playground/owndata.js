// A student's own data for the Playground: a small CSV of x, y(, label) pasted into the page.
// Rows of three numbers are points of the plane with a class (0-3); rows of two are points of a
// curve (x and its value). A bad row is named in a sentence (cnnlab/i18n, section "playground").

import { MAX_OWN_POINTS, OWN_RANGE } from './settings.js';
import { DOMAIN_2D } from './data.js';

export class OwnDataError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = 'OwnDataError';
    this.key = key;
    this.params = params;
  }
}

const MAX_CSV_CHARS = 100000;

/** CSV text -> { dataset: 'own-class' | 'own-curve', rows, classes }; an OwnDataError names the
 *  first bad row (its line number and text). Separators: comma, semicolon, tab or spaces; blank
 *  lines, lines starting with '#' and a first line of column names are skipped. */
export function parseCSV(text) {
  if (typeof text !== 'string' || text.length > MAX_CSV_CHARS) throw new OwnDataError('playground.csv_too_many', { most: MAX_OWN_POINTS });
  const rows = [];
  let width = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].trim();
    if (!raw || raw.startsWith('#')) continue;
    const cells = raw.split(/\s*[,;\t]\s*|\s+/).filter((c) => c !== '');
    const numbers = cells.map((c) => (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(c) ? Number(c) : NaN));
    if (!rows.length && !width && numbers.some(Number.isNaN) && cells.some((c) => /[a-z]/i.test(c)) &&
        cells.length >= 2 && cells.length <= 3) {
      continue;                                   // a header line: x, y, label
    }
    const line = { n: i + 1, text: raw.slice(0, 40) };
    if (numbers.length < 2 || numbers.length > 3 || numbers.some((v) => !Number.isFinite(v))) {
      throw new OwnDataError('playground.csv_bad_row', line);
    }
    if (width && numbers.length !== width) throw new OwnDataError('playground.csv_mixed', { ...line, width });
    width = numbers.length;
    if (numbers.some((v) => Math.abs(v) > OWN_RANGE)) throw new OwnDataError('playground.csv_far', { ...line, most: OWN_RANGE });
    if (width === 3) {
      const [lo, hi] = DOMAIN_2D;
      if (numbers[0] < lo || numbers[0] > hi || numbers[1] < lo || numbers[1] > hi) {
        throw new OwnDataError('playground.csv_off_plane', { ...line, low: lo, high: hi });
      }
      if (!Number.isInteger(numbers[2]) || numbers[2] < 0 || numbers[2] > 3) {
        throw new OwnDataError('playground.csv_bad_class', line);
      }
    }
    rows.push(numbers);
    if (rows.length > MAX_OWN_POINTS) throw new OwnDataError('playground.csv_too_many', { most: MAX_OWN_POINTS });
  }
  if (rows.length < 2) throw new OwnDataError('playground.csv_too_few', {});
  if (width === 3) {
    const classes = Math.max(2, ...rows.map((r) => r[2] + 1));
    return { dataset: 'own-class', rows, classes };
  }
  return { dataset: 'own-curve', rows, classes: 2 };
}

/** Own rows -> CSV text (what the box shows for points tapped onto the plot). */
export function toCSV(rows) {
  return rows.map((r) => r.map((v, j) => (j === 2 ? String(v) : String(Number(v.toPrecision(4))))).join(', ')).join('\n');
}
