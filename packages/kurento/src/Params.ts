import { isMediaKind, type MediaKind } from '@roundtable/media';
import { KurentoError } from './errors.js';
import type { RemoteObject } from './RemoteObject.js';

export type KurentoMediaType = 'AUDIO' | 'VIDEO' | 'DATA';

/** Reads and checks the parameters of one request; wrong types are INVALID_PARAMS. */
export class Params {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly resolve: (id: string) => RemoteObject,
  ) {}

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  value(name: string): unknown {
    return this.raw[name];
  }

  string(name: string): string {
    const v = this.raw[name];
    if (typeof v !== 'string') throw invalid(name, 'a string', v);
    return v;
  }

  optString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  int(name: string): number {
    const v = this.raw[name];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(name, 'an integer', v);
    return v;
  }

  optInt(name: string): number | undefined {
    return this.has(name) ? this.int(name) : undefined;
  }

  number(name: string): number {
    const v = this.raw[name];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(name, 'a number', v);
    return v;
  }

  bool(name: string): boolean {
    const v = this.raw[name];
    if (typeof v !== 'boolean') throw invalid(name, 'a boolean', v);
    return v;
  }

  optBool(name: string): boolean | undefined {
    return this.has(name) ? this.bool(name) : undefined;
  }

  record(name: string): Record<string, unknown> {
    const v = this.raw[name];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid(name, 'an object', v);
    return v as Record<string, unknown>;
  }

  /** A media object reference by id, optionally of a given class (or a subclass). */
  object(name: string, className?: string): RemoteObject {
    const id = this.string(name);
    const obj = this.resolve(id);
    if (className && !obj.def.isA(className)) {
      throw new KurentoError('INVALID_PARAMS', `parameter '${name}' must be a ${className}, got ${obj.type}`);
    }
    return obj;
  }

  optObject(name: string, className?: string): RemoteObject | undefined {
    return this.has(name) ? this.object(name, className) : undefined;
  }

  /** AUDIO / VIDEO / DATA, or undefined when absent. */
  mediaType(name: string): KurentoMediaType | undefined {
    if (!this.has(name)) return undefined;
    const v = this.raw[name];
    if (v !== 'AUDIO' && v !== 'VIDEO' && v !== 'DATA') throw invalid(name, "one of 'AUDIO', 'VIDEO', 'DATA'", v);
    return v;
  }
}

/** The audio/video kinds a Kurento media type selects (DATA selects none: data channels connect apart). */
export function kindsOf(type: KurentoMediaType | undefined): MediaKind[] | undefined {
  if (type === undefined) return undefined;
  if (type === 'DATA') return [];
  const kind = type.toLowerCase();
  return isMediaKind(kind) ? [kind] : [];
}

export function toKurentoMediaType(kind: MediaKind): KurentoMediaType {
  return kind === 'audio' ? 'AUDIO' : 'VIDEO';
}

function invalid(name: string, expected: string, got: unknown): KurentoError {
  const what = got === undefined ? 'missing' : `got ${JSON.stringify(got)?.slice(0, 40)}`;
  return new KurentoError('INVALID_PARAMS', `parameter '${name}' must be ${expected} (${what})`);
}
