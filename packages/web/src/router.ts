/** Hash routes: #/chats, #/chat/<id>, #/contacts, #/loopback, #/rooms, #/room/<name>, #/recordings. */
import { ref } from 'vue';

export type Route =
  | { name: 'chats'; conversationId: string | null }
  | { name: 'contacts' }
  | { name: 'loopback' }
  | { name: 'rooms' }
  | { name: 'room'; room: string }
  | { name: 'recordings' };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map((p) => decodeURIComponent(p));
  switch (parts[0]) {
    case 'chat':
      return { name: 'chats', conversationId: parts[1] || null };
    case 'contacts':
      return { name: 'contacts' };
    case 'loopback':
      return { name: 'loopback' };
    case 'rooms':
      return { name: 'rooms' };
    case 'recordings':
      return { name: 'recordings' };
    case 'room':
      return parts[1] ? { name: 'room', room: parts[1] } : { name: 'rooms' };
    default:
      return { name: 'chats', conversationId: null };
  }
}

export const route = ref<Route>(parseHash(location.hash));
window.addEventListener('hashchange', () => (route.value = parseHash(location.hash)));

export function go(hash: string): void {
  if (location.hash === hash) route.value = parseHash(hash);
  else location.hash = hash;
}
