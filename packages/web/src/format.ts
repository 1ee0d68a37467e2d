import type { CallRecord, UserInfo } from '@roundtable/protocol';
import { t } from './i18n.js';

/** 133 -> "02:13"; an hour or more -> "1:02:13". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "[video call] 02:13" for an answered call, "missed call" for one nobody answered. */
export function callRecordText(record: CallRecord): string {
  if (record.missed) return t('missedCall');
  return t(record.audioOnly ? 'callRecordVoice' : 'callRecordVideo', { duration: formatDuration(record.duration) });
}

/** Up to two letters (or one CJK character) for an avatar. */
export function initials(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '') return '?';
  if (/[\u3400-\u9fff]/.test(trimmed)) return trimmed.slice(-1);
  const words = trimmed.split(/[\s._-]+/).filter(Boolean);
  const letters = words.length > 1 ? `${words[0]![0]}${words[1]![0]}` : trimmed.slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue per user, for avatars. */
export function avatarHue(id: string): number {
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

export function displayName(user: UserInfo | undefined, fallback = '?'): string {
  return user ? user.displayName || user.username : fallback;
}

export function clockTime(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}
