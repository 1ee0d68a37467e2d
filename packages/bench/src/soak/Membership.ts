/**
 * Who is in which room of the soak, and since when: every join gets a new participant
 * id (packets carry it), people come back under the names of a pool per room, and
 * times are kept so that a window counts only the streams whose both ends stayed.
 */
import { nowUs } from '../traffic.js';

export interface Member {
  id: number;
  room: number;
  username: string;
  /** Load-generator worker that runs it. */
  worker: number;
  addedUs: number;
  removedUs: number | undefined;
}

export class Membership {
  private nextId = 1;
  private readonly members = new Map<number, Member>();

  constructor(
    readonly rooms: number,
    readonly roomSize: number,
    private readonly workers: number,
    private readonly prefix: string,
    /** Names per room: more than roomSize, so that the next to join is not always who just left. */
    private readonly namesPerRoom = roomSize + 3,
  ) {}

  present(room?: number): Member[] {
    return [...this.members.values()].filter((m) => m.removedUs === undefined && (room === undefined || m.room === room));
  }

  get(id: number): Member | undefined {
    return this.members.get(id);
  }

  /** A new participant in `room`, under a name of the room's pool nobody present uses. */
  add(room: number): Member {
    const used = new Set(this.present(room).map((m) => m.username));
    const free = Array.from({ length: this.namesPerRoom }, (_, i) => `${this.prefix}-r${room}-p${i}`).filter((n) => !used.has(n));
    const username = free[Math.floor(Math.random() * free.length)]!;
    const id = this.nextId++;
    const member: Member = { id, room, username, worker: id % this.workers, addedUs: nowUs(), removedUs: undefined };
    this.members.set(id, member);
    return member;
  }

  remove(id: number): Member | undefined {
    const m = this.members.get(id);
    if (m && m.removedUs === undefined) m.removedUs = nowUs();
    return m;
  }

  /** Whether `id` was in its room the whole time from `fromUs` to `toUs`. */
  stayed(id: number, fromUs: number, toUs: number): boolean {
    const m = this.members.get(id);
    return m !== undefined && m.addedUs <= fromUs && (m.removedUs === undefined || m.removedUs >= toUs);
  }

  /** Forgets members that left before `beforeUs` (long runs would keep every one otherwise). */
  prune(beforeUs: number): void {
    for (const [id, m] of this.members) if (m.removedUs !== undefined && m.removedUs < beforeUs) this.members.delete(id);
  }

  /** WebRTC endpoints the server needs for the people present: per room, n uplinks and n(n-1) downlinks. */
  expectedEndpoints(): number {
    let total = 0;
    for (let room = 0; room < this.rooms; room++) {
      const n = this.present(room).length;
      total += n * n;
    }
    return total;
  }
}
