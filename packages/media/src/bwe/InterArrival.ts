/**
 * Groups packets into bursts (those sent within `burstMs` of a group's first packet)
 * and gives, for each completed group, the delay variation against the previous one:
 * how much longer (or shorter) the group took to arrive than to be sent. A growing
 * queue on the path makes it positive. GCC §5.2 (draft-ietf-rmcat-gcc-02).
 */
export interface GroupDelta {
  /** Send time difference of the two groups' last packets, ms. */
  sendDelta: number;
  /** Arrival time difference of the two groups' last packets, ms. */
  arrivalDelta: number;
  /** The newer group's last arrival, ms (receiver clock). */
  arrival: number;
}

interface Group {
  firstSend: number;
  lastSend: number;
  lastArrival: number;
}

export class InterArrival {
  private current: Group | undefined;
  private previous: Group | undefined;

  constructor(private readonly burstMs = 5) {}

  /** One received packet (in send order); the delta of the group it completed, if any. */
  add(sendTime: number, arrival: number): GroupDelta | undefined {
    const current = this.current;
    if (!current) {
      this.current = { firstSend: sendTime, lastSend: sendTime, lastArrival: arrival };
      return undefined;
    }
    // Reordered (sent before this group began): no use for delay variation.
    if (sendTime < current.firstSend) return undefined;
    if (sendTime - current.firstSend <= this.burstMs) {
      current.lastSend = Math.max(current.lastSend, sendTime);
      current.lastArrival = Math.max(current.lastArrival, arrival);
      return undefined;
    }
    let delta: GroupDelta | undefined;
    const previous = this.previous;
    if (previous) {
      delta = { sendDelta: current.lastSend - previous.lastSend, arrivalDelta: current.lastArrival - previous.lastArrival, arrival: current.lastArrival };
    }
    this.previous = current;
    this.current = { firstSend: sendTime, lastSend: sendTime, lastArrival: arrival };
    return delta;
  }
}
