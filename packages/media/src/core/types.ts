/** Kinds of media an element carries. Kurento's DATA kind is not forwarded yet. */
export type MediaKind = 'audio' | 'video';
export const MEDIA_KINDS: readonly MediaKind[] = ['audio', 'video'];

declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };
export type ElementId = Brand<string, 'ElementId'>;

/** A negotiated RTP codec, as seen by the forwarding path. */
export interface CodecInfo {
  mimeType: string;
  payloadType: number;
  clockRate: number;
  channels?: number;
  /** fmtp parameters, e.g. "packetization-mode=1;profile-level-id=42e01f". */
  parameters?: string;
}

export function isMediaKind(value: unknown): value is MediaKind {
  return value === 'audio' || value === 'video';
}

/** Two codecs can be forwarded one into the other without transcoding. */
export function codecsCompatible(a: CodecInfo, b: CodecInfo): boolean {
  if (a.mimeType.toLowerCase() !== b.mimeType.toLowerCase() || a.clockRate !== b.clockRate) return false;
  if (a.mimeType.toLowerCase() === 'video/h264') {
    return fmtpValue(a.parameters, 'packetization-mode') === fmtpValue(b.parameters, 'packetization-mode');
  }
  return true;
}

function fmtpValue(parameters: string | undefined, key: string): string {
  for (const part of (parameters ?? '').split(';')) {
    const [k, v] = part.split('=');
    if (k?.trim() === key) return (v ?? '').trim();
  }
  return key === 'packetization-mode' ? '0' : '';
}
