/** One "element" bus message a gst-launch-1.0 -m child printed. */
export interface BusMessage {
  /** Name of the element that posted it, e.g. "zbar0". */
  element: string;
  /** Name of the message structure, e.g. "barcode". */
  name: string;
  /** Field values as printed (strings unquoted and unescaped; nested structures as text). */
  fields: Map<string, string>;
}

const HEAD = /^Got message #\d+ from element "([^"]*)" \(element\): ([A-Za-z0-9_-]+)(?:, |;|$)/;

/**
 * Parses a gst-launch-1.0 -m line such as
 * `Got message #60 from element "zbar0" (element): barcode, type=(string)QR-Code, symbol=(string)"a\ b";`
 * (GstStructure's serialisation: `key=(type)value`, strings quoted and backslash-escaped
 * when they hold anything but plain characters, octal escapes for other bytes).
 */
export function parseBusMessage(line: string): BusMessage | undefined {
  const head = HEAD.exec(line);
  if (!head) return undefined;
  const fields = new Map<string, string>();
  let i = head[0].length;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (i >= line.length || line[i] === ';') break;
    const eq = line.indexOf('=', i);
    if (eq < 0) break;
    const key = line.slice(i, eq).trim();
    i = eq + 1;
    if (line[i] === '(') {
      const close = line.indexOf(')', i);
      if (close < 0) break;
      i = close + 1;
    }
    const [value, next] = readValue(line, i);
    fields.set(key, value);
    i = next;
  }
  return { element: head[1]!, name: head[2]!, fields };
}

function readValue(line: string, start: number): [string, number] {
  const first = line[start];
  if (first === '"') return readQuoted(line, start + 1);
  if (first === '{' || first === '<' || first === '[') {
    const open = first;
    const closeChar = open === '{' ? '}' : open === '<' ? '>' : ']';
    let depth = 0;
    let inQuote = false;
    for (let i = start; i < line.length; i++) {
      const c = line[i];
      if (inQuote) {
        if (c === '\\') i++;
        else if (c === '"') inQuote = false;
        continue;
      }
      if (c === '"') inQuote = true;
      else if (c === open) depth++;
      else if (c === closeChar && --depth === 0) return [line.slice(start, i + 1), i + 1];
    }
    return [line.slice(start), line.length];
  }
  let end = start;
  while (end < line.length && line[end] !== ',' && line[end] !== ';') end++;
  return [line.slice(start, end).trim(), end];
}

/** A quoted GstStructure string: `\x` stands for x, `\ooo` for one byte (octal); UTF-8 inside. */
function readQuoted(line: string, start: number): [string, number] {
  const bytes: number[] = [];
  let i = start;
  while (i < line.length && line[i] !== '"') {
    if (line[i] === '\\' && i + 1 < line.length) {
      const octal = /^[0-7]{3}/.exec(line.slice(i + 1, i + 4));
      if (octal) {
        bytes.push(parseInt(octal[0], 8));
        i += 4;
        continue;
      }
      i++;
    }
    bytes.push(...Buffer.from(line[i]!, 'utf8'));
    i++;
  }
  return [Buffer.from(bytes).toString('utf8'), i + 1];
}

/** The faces of a facedetect message: `faces=(structure){ "face\,\ x\=\(uint\)108\,..." }`. */
export function parseFaces(value: string): Array<{ x: number; y: number; width: number; height: number }> {
  const faces: Array<{ x: number; y: number; width: number; height: number }> = [];
  const unescaped = value.replace(/\\(.)/g, '$1');
  const re = /face, x=\(uint\)(\d+), y=\(uint\)(\d+), width=\(uint\)(\d+), height=\(uint\)(\d+)/g;
  for (let m = re.exec(unescaped); m; m = re.exec(unescaped)) {
    faces.push({ x: Number(m[1]), y: Number(m[2]), width: Number(m[3]), height: Number(m[4]) });
  }
  return faces;
}
