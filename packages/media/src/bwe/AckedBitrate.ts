/**
 * The bitrate the receiver acknowledged: bytes of the packets that arrived in the last
 * `windowMs` of arrival time (the receiver's clock), over that span. Undefined until
 * the packets seen span `minSpanMs`.
 */
export class AckedBitrate {
  private readonly packets: Array<{ arrival: number; size: number }> = [];
  private bytes = 0;

  constructor(
    private readonly windowMs = 500,
    private readonly minSpanMs = 150,
  ) {}

  add(arrival: number, size: number): void {
    this.packets.push({ arrival, size });
    this.bytes += size;
    const newest = Math.max(arrival, this.packets[this.packets.length - 1]!.arrival);
    while (this.packets.length > 0 && this.packets[0]!.arrival < newest - this.windowMs) this.bytes -= this.packets.shift()!.size;
  }

  get bitrate(): number | undefined {
    if (this.packets.length < 2) return undefined;
    const span = this.packets[this.packets.length - 1]!.arrival - this.packets[0]!.arrival;
    if (span < this.minSpanMs) return undefined;
    // The first packet opens the span: its bytes arrived before it.
    return ((this.bytes - this.packets[0]!.size) * 8 * 1000) / span;
  }
}
