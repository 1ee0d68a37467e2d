import { execFile } from 'node:child_process';
import { MediaError } from '../core/errors.js';
import type { MediaPipeline } from '../core/MediaPipeline.js';
import type { MediaKind } from '../core/types.js';
import { Filter, type FilterOptions } from './Filter.js';
import { inspectElement } from './gstInspect.js';

/** Kurento's FilterType: which media the element works on (AUTODETECT: from its pads). */
export type FilterType = 'AUDIO' | 'VIDEO' | 'AUTODETECT';

export interface GStreamerFilterOptions extends FilterOptions {
  /** One GStreamer element with its properties, as in gst-launch: "videoflip method=horizontal-flip". */
  command: string;
  /** Default 'AUTODETECT'. */
  filterType?: FilterType;
}

/** A checked command: its gst-launch tokens and the kind of media it filters. */
export interface ParsedCommand {
  element: string;
  tokens: string[];
  kind: MediaKind;
}

const cannotCreate = (detail: string): MediaError => new MediaError('INVALID_FILTER_COMMAND', `GStreamer element cannot be created: ${detail}`);

/** Splits a gst-launch fragment into arguments: whitespace separates, quotes group (and go). */
export function splitCommand(command: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && i + 1 < command.length) current += command[++i];
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (/\s/.test(c)) {
      if (started) tokens.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  if (quote) throw cannotCreate(`unterminated quote in '${command}'`);
  if (started) tokens.push(current);
  return tokens;
}

const VIDEOFLIP_METHODS = ['none', 'clockwise', 'rotate-180', 'counterclockwise', 'horizontal-flip', 'vertical-flip', 'upper-left-diagonal', 'upper-right-diagonal', 'automatic'];

/**
 * videoflip's deprecated `method` (what Kurento's own examples use) does nothing in
 * Debian 12's GStreamer 1.22 (measured: the picture comes out unflipped), so it is
 * given as `video-direction`, whose values are the same in the same order.
 */
function normalizeTokens(tokens: string[]): string[] {
  if (tokens[0] !== 'videoflip') return tokens;
  return tokens.map((t) => {
    const m = /^method=(.*)$/.exec(t);
    if (!m) return t;
    const index = /^\d+$/.test(m[1]!) ? Number(m[1]) : VIDEOFLIP_METHODS.indexOf(m[1]!);
    return index >= 0 && index < VIDEOFLIP_METHODS.length ? `video-direction=${index}` : t;
  });
}

/**
 * Checks a GStreamerFilter command as Kurento Media Server does (gst_parse_launch of
 * the command must give one element whose pads take and give raw media of the
 * filter's type), then runs it once on a few test frames (or samples) so that a bad
 * property value or caps the element cannot take fail here, at create, with
 * GStreamer's message.
 */
export async function parseGStreamerCommand(command: string, filterType: FilterType, options: FilterOptions = {}): Promise<ParsedCommand> {
  const tokens = splitCommand(command);
  if (tokens.length === 0) throw cannotCreate('empty command');
  const [element, ...props] = tokens as [string, ...string[]];
  if (tokens.includes('!') || props.some((p) => !/^[A-Za-z][\w-]*(::[\w-]+)?=/.test(p))) {
    throw new MediaError('INVALID_FILTER_COMMAND', 'Given command is not valid, only one element can be created');
  }
  if (!/^[A-Za-z][\w-]*$/.test(element)) throw cannotCreate(`no element "${element}"`);
  const info = await inspectElement(element, options.gstInspect);
  if (!info) throw cannotCreate(`no element "${element}"`);
  for (const p of props) {
    const key = p.slice(0, p.indexOf('='));
    if (!info.properties.has(key)) throw cannotCreate(`no property "${key}" in element "${element}"`);
  }
  const takes = (caps: string[], kind: MediaKind): boolean => caps.some((c) => c === 'ANY' || c === `${kind}/x-raw`);
  let kind: MediaKind;
  if (filterType === 'AUTODETECT') {
    if (takes(info.sinkCaps, 'video') && !info.sinkCaps.includes('ANY')) kind = 'video';
    else if (takes(info.sinkCaps, 'audio') && !info.sinkCaps.includes('ANY')) kind = 'audio';
    else kind = 'video';
  } else {
    kind = filterType === 'AUDIO' ? 'audio' : 'video';
  }
  if (!takes(info.sinkCaps, kind) || !takes(info.srcCaps, kind)) {
    throw new MediaError('INVALID_FILTER_COMMAND', "Given command is not valid, pad templates don't match");
  }
  const normalized = normalizeTokens(tokens);
  await dryRun(normalized, kind, options.gstLaunch ?? 'gst-launch-1.0');
  return { element, tokens: normalized, kind };
}

function dryRun(tokens: string[], kind: MediaKind, gstLaunch: string): Promise<void> {
  const source =
    kind === 'video'
      ? ['videotestsrc', 'num-buffers=2', '!', 'video/x-raw,width=64,height=48,framerate=10/1', '!', 'videoconvert']
      : ['audiotestsrc', 'num-buffers=2', '!', 'audioconvert', '!', 'audioresample'];
  const convert = kind === 'video' ? 'videoconvert' : 'audioconvert';
  const args = ['-q', ...source, '!', ...tokens, '!', convert, '!', 'fakesink'];
  return new Promise((resolve, reject) => {
    execFile(gstLaunch, args, { timeout: 10_000 }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const text = `${stdout}\n${stderr}`;
      const line = text.split('\n').find((l) => /^(ERROR|WARNING: erroneous pipeline)/.test(l)) ?? text.trim().split('\n')[0] ?? String(error);
      const detail = /erroneous pipeline: (.*)$/.exec(line)?.[1] ?? line.replace(/^ERROR: (from element \S+: )?/, '');
      reject(cannotCreate(detail.trim()));
    });
  });
}

/**
 * Kurento's GStreamerFilter: one GStreamer element (the command) applied to the
 * video or the audio going through; the other kind passes untouched. The command is
 * checked before the filter exists (see parseGStreamerCommand).
 */
export class GStreamerFilter extends Filter {
  readonly command: string;
  readonly kind: MediaKind;
  private tokens: string[];

  constructor(pipeline: MediaPipeline, parsed: ParsedCommand & { command: string }, options: FilterOptions = {}) {
    super('GStreamerFilter', pipeline, [parsed.kind], options);
    this.command = parsed.command;
    this.kind = parsed.kind;
    this.tokens = parsed.tokens;
  }

  /**
   * Sets a property of the element (Kurento's setElementProperty). The child restarts
   * with it (gst-launch cannot change a running element). Unknown properties are refused.
   */
  async setElementProperty(name: string, value: string): Promise<void> {
    this.assertOpen();
    const element = this.tokens[0]!;
    const info = await inspectElement(element, this.filterOptions.gstInspect);
    if (!info?.properties.has(name)) throw new MediaError('INVALID_FILTER_COMMAND', `No property named '${name}' in object '${element}'`);
    const next = normalizeTokens([...this.tokens.filter((t, i) => i === 0 || !t.startsWith(`${name}=`)), `${name}=${value}`]);
    await dryRun(next, this.kind, this.filterOptions.gstLaunch ?? 'gst-launch-1.0');
    this.tokens = next;
    this.restartChild(this.kind);
  }

  protected stage(): string[] {
    return this.tokens;
  }
}
