import WebSocket from 'ws';
import { KurentoClientError } from './KurentoClientError.js';

/**
 * Opens a WebSocket to a Kurento Protocol server, with the access token (if any) as
 * `?access_token=`. Rejects with CONNECTION_FAILED; the message names the URL
 * without the token.
 */
export function openSocket(url: string, accessToken: string | undefined, timeoutMs: number): Promise<WebSocket> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.reject(new KurentoClientError('CONNECTION_FAILED', `'${url}' is not a WebSocket URL`));
  }
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    return Promise.reject(new KurentoClientError('CONNECTION_FAILED', `'${url}' is not a WebSocket URL (ws: or wss:)`));
  }
  if (accessToken !== undefined) target.searchParams.set('access_token', accessToken);
  const ws = new WebSocket(target, { handshakeTimeout: timeoutMs, perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    const onOpen = (): void => {
      ws.off('error', onError);
      resolve(ws);
    };
    const onError = (error: Error): void => {
      // ws has already aborted the handshake and closes the socket itself.
      ws.off('open', onOpen);
      reject(new KurentoClientError('CONNECTION_FAILED', `cannot connect to ${url}: ${error.message}`));
    };
    ws.once('open', onOpen);
    ws.once('error', onError);
  });
}
