import { SignalingError } from '../net/Handlers.js';

/**
 * The endpoints of one room, as both media server implementations keep them: an uplink
 * per participant, and per receiving participant one downlink per sender.
 */
export class RoomLinks<T> {
  private readonly uplinks = new Map<string, T>();
  /** downlinks.get(participant).get(sender) */
  private readonly downlinks = new Map<string, Map<string, T>>();

  has(participant: string): boolean {
    return this.uplinks.has(participant);
  }

  participants(): string[] {
    return [...this.uplinks.keys()];
  }

  addUplink(participant: string, uplink: T): void {
    this.uplinks.set(participant, uplink);
    this.downlinks.set(participant, new Map());
  }

  /**
   * The endpoint carrying `sender`'s media to `participant` (its uplink when they are the
   * same). A missing downlink is made with `create(senderUplink)` when `create` is given.
   */
  linkFor(participant: string, sender: string, create?: (source: T) => T): T {
    const uplink = this.uplinks.get(participant);
    if (uplink === undefined) throw new SignalingError('NOT_FOUND', `${participant} is not in this room`);
    if (sender === participant) return uplink;
    const source = this.uplinks.get(sender);
    if (source === undefined) throw new SignalingError('NOT_FOUND', `${sender} is not in this room`);
    const links = this.downlinks.get(participant)!;
    let link = links.get(sender);
    if (link === undefined) {
      if (!create) throw new SignalingError('INVALID_STATE', `no link from ${sender} to ${participant} yet: send receiveVideoFrom first`);
      link = create(source);
      links.set(sender, link);
    }
    return link;
  }

  /**
   * The downlink carrying `sender`'s media to `participant` when the sender has no
   * uplink here (it publishes on transports): made with `create()` at the first use.
   */
  downlink(participant: string, sender: string, create: () => T): T {
    const links = this.downlinks.get(participant);
    if (links === undefined) throw new SignalingError('NOT_FOUND', `${participant} is not in this room`);
    let link = links.get(sender);
    if (link === undefined) {
      link = create();
      links.set(sender, link);
    }
    return link;
  }

  /** Uplinks and downlinks. */
  endpointCount(): number {
    let n = this.uplinks.size;
    for (const links of this.downlinks.values()) n += links.size;
    return n;
  }

  /** Forgets a participant; returns every endpoint that went with it (to release). */
  remove(participant: string): T[] {
    const gone: T[] = [];
    const uplink = this.uplinks.get(participant);
    if (uplink !== undefined) gone.push(uplink);
    this.uplinks.delete(participant);
    gone.push(...(this.downlinks.get(participant)?.values() ?? []));
    this.downlinks.delete(participant);
    for (const links of this.downlinks.values()) {
      const link = links.get(participant);
      if (link !== undefined) gone.push(link);
      links.delete(participant);
    }
    return gone;
  }
}
