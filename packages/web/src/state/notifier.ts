/**
 * Telling the user about messages and calls while they look elsewhere: the tab title
 * counts unread messages and a ringing call ("(3) Roundtable"), and, once they allowed
 * it (the Notification API asks; only from a click), desktop notifications for a message
 * in a conversation that is not open and for an incoming call while the page is not in
 * front.
 */
import { ref } from 'vue';

export type NotificationPermissionState = 'default' | 'granted' | 'denied' | 'unsupported';

function currentPermission(): NotificationPermissionState {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

export class Notifier {
  readonly permission = ref<NotificationPermissionState>(currentPermission());
  /** Desktop notifications shown so far (for the debug hook). */
  shown = 0;

  /** Asks the browser for permission (call from a click). */
  async enable(): Promise<void> {
    if (typeof Notification === 'undefined') return;
    this.permission.value = await Notification.requestPermission();
  }

  /** "(n) base" while n > 0, else "base". */
  static title(base: string, count: number): string {
    return count > 0 ? `(${count}) ${base}` : base;
  }

  /** The page is not what the user looks at. */
  static away(): boolean {
    return document.visibilityState !== 'visible' || !document.hasFocus();
  }

  /** Shows a desktop notification when allowed; a click brings the page forward. `tag` replaces an earlier one with the same tag. */
  show(title: string, body: string, tag: string, onClick?: () => void): void {
    this.permission.value = currentPermission();
    if (this.permission.value !== 'granted') return;
    try {
      const notification = new Notification(title, { body, tag });
      this.shown++;
      notification.onclick = () => {
        window.focus();
        onClick?.();
        notification.close();
      };
    } catch (error) {
      // Some browsers (Android Chrome) only allow notifications from a service worker.
      console.warn('roundtable: desktop notification refused', error);
    }
  }
}
