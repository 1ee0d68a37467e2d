/**
 * What the user reads when something fails or is refused: every error in the current
 * language, and the input rules (username, password, message, room name) checked before
 * anything is sent, each with the rule stated. Components show the text next to the
 * field it concerns; raw server text ("login: UNAUTHENTICATED: …") never reaches the page.
 */
import { ClientError } from '@roundtable/client';
import { MAX_CALL_PARTICIPANTS, MAX_DISPLAY_NAME_LENGTH, MAX_MESSAGE_LENGTH, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, ROOM_NAME_PATTERN, USERNAME_PATTERN } from '@roundtable/protocol';
import { t } from '../i18n.js';

/** Which form field an error belongs next to ('form': the form as a whole). */
export type Field = 'username' | 'password' | 'displayName' | 'form';

export interface FieldError {
  field: Field;
  text: string;
}

/** The server's own words, without the "type: CODE: " prefix the SDK adds. */
function detailOf(error: unknown): string {
  if (error instanceof ClientError) {
    const marker = `${error.code}: `;
    const at = error.message.indexOf(marker);
    return at >= 0 ? error.message.slice(at + marker.length) : error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Any failure as a sentence in the user's language. */
export function errorText(error: unknown): string {
  if (error instanceof DOMException || (error instanceof Error && /^(NotAllowed|NotFound|NotReadable|Overconstrained|Security)Error$/.test(error.name))) {
    return t('mediaDenied', { detail: detailOf(error) });
  }
  if (!(error instanceof ClientError)) return t('err_generic', { detail: detailOf(error) });
  const detail = detailOf(error);
  switch (error.code) {
    case 'UNAUTHENTICATED':
      return error.requestType === 'login' ? t('err_wrongCredentials') : t('err_sessionEnded', { reason: t('reason_expired') });
    case 'CONFLICT':
      return error.requestType === 'register' ? t('err_usernameTaken') : t('err_invalidState', { detail });
    case 'TOO_MANY_ATTEMPTS':
      return t('err_tooManyAttempts', { seconds: Math.max(1, Math.ceil((error.retryAfterMs ?? 30_000) / 1000)) });
    case 'OVERLOADED':
      return t('err_overloaded');
    case 'RATE_LIMITED':
      return t('err_rateLimited');
    case 'NOT_FOUND':
      return error.requestType === 'users.find' ? t('err_userNotFound') : t('err_notFound');
    case 'FORBIDDEN':
      return t('err_forbidden');
    case 'BUSY':
      return t('err_busy');
    case 'CALL_FULL':
      return t('err_callFull', { max: MAX_CALL_PARTICIPANTS });
    case 'QUOTA_EXCEEDED':
      return t('err_quota', { detail });
    case 'INVALID_STATE':
      return t('err_invalidState', { detail });
    case 'TOO_LARGE':
      return t('err_messageTooLong', { length: '?', max: MAX_MESSAGE_LENGTH });
    case 'DISCONNECTED':
    case 'TIMEOUT':
    case 'CLOSED':
      return t('err_unreachable');
    case 'MEDIA':
    case 'MEDIA_ERROR':
      return t('err_media', { detail });
    default:
      return t('err_generic', { detail });
  }
}

/** A sign-in or registration failure, placed next to its field. */
export function signInError(error: unknown): FieldError {
  const text = errorText(error);
  if (error instanceof ClientError) {
    if (error.code === 'CONFLICT') return { field: 'username', text };
    if (error.code === 'UNAUTHENTICATED') return { field: 'password', text };
  }
  return { field: 'form', text };
}

/** The registration (or sign-in) form checked before it is sent: the first problem per field. */
export function checkSignIn(mode: 'login' | 'register', username: string, password: string, displayName: string): FieldError[] {
  const problems: FieldError[] = [];
  if (!USERNAME_PATTERN.test(username)) problems.push({ field: 'username', text: t('err_usernameInvalid', { rule: t('usernameRule') }) });
  if (mode === 'register' && password.length < MIN_PASSWORD_LENGTH) problems.push({ field: 'password', text: t('err_passwordShort', { rule: t('passwordRule', { min: MIN_PASSWORD_LENGTH }) }) });
  else if (password.length === 0) problems.push({ field: 'password', text: t('err_passwordShort', { rule: t('passwordRule', { min: mode === 'register' ? MIN_PASSWORD_LENGTH : 1 }) }) });
  else if (password.length > MAX_PASSWORD_LENGTH) problems.push({ field: 'password', text: t('err_passwordLong', { max: MAX_PASSWORD_LENGTH }) });
  if (mode === 'register' && displayName.length > MAX_DISPLAY_NAME_LENGTH) problems.push({ field: 'displayName', text: t('err_displayNameLong', { max: MAX_DISPLAY_NAME_LENGTH }) });
  return problems;
}

/** Why a message cannot be sent as it is (null: it can). */
export function messageProblem(text: string): string | null {
  return text.length > MAX_MESSAGE_LENGTH ? t('err_messageTooLong', { length: text.length.toLocaleString(), max: MAX_MESSAGE_LENGTH.toLocaleString() }) : null;
}

/** Why a room name cannot be used (null: it can). */
export function roomNameProblem(name: string): string | null {
  return ROOM_NAME_PATTERN.test(name) ? null : t('err_roomName', { rule: t('roomNameRule') });
}
