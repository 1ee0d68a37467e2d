import { createSocket, type Socket } from 'node:dgram';

/*
 * A bad network for tests, in user space (this kernel has no netem): a UDP relay that
 * a peer talks to instead of the server, and that drops and delays datagrams on the
 * way, in both directions.
 *
 *   peer ──▶ front socket ─(loss, delay)─▶ back socket ──▶ server port
 *   peer ◀── front socket ◀─(loss, delay)─ back socket ◀── server port
 *
 * The server sees the peer at the back socket's address (a peer-reflexive candidate),
 * the peer sees the server at the front socket's: ImpairedPath rewrites the server's
 * candidates for the peer and keeps the peer's own candidates from the server, so
 * every ICE pair, and all media, goes through a relay.
 */

export interface ImpairmentOptions {
  /**
   * Share of the datagrams dropped, in each direction (0-1). Default 0. The drops fall at
   * irregular places (seeded), but each direction's count stays within about one datagram
   * of its share, so that a short run is as lossy as asked (coin flips per datagram gave
   * a 150-datagram leg 1.3 % instead of 5 %).
   */
  loss?: number;
  /** Delay added to each datagram, in each direction (ms). Default 0. */
  delayMs?: number;
  /** Seed of the loss pattern, so that a run repeats. Default 1. */
  seed?: number;
  /** Local UDP ports the relay sockets may take (two per relay), from the test file's range. Default: any free port. */
  portRange?: [number, number];
}

export interface DirectionStats {
  forwarded: number;
  dropped: number;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function bindIn(range: [number, number] | undefined, next: { port: number }): Promise<Socket> {
  for (;;) {
    const port = range ? next.port++ : 0;
    if (range && port > range[1]) throw new Error(`no free UDP port left in ${range[0]}-${range[1]} for the impairment relay`);
    const socket = createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) return socket;
    socket.close();
    if (!range) throw new Error('cannot bind a UDP socket on 127.0.0.1');
  }
}

/** One relay: a front socket for the peer, a back socket towards one server address. */
export class ImpairmentRelay {
  readonly up: DirectionStats = { forwarded: 0, dropped: 0 };
  readonly down: DirectionStats = { forwarded: 0, dropped: 0 };
  private peer: { address: string; port: number } | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly front: Socket,
    private readonly back: Socket,
    private readonly target: { address: string; port: number },
    private readonly options: ImpairmentOptions,
    private readonly random: () => number,
  ) {
    front.on('message', (data, from) => {
      this.peer = { address: from.address, port: from.port };
      this.pass(data, this.up, () => this.back.send(data, this.target.port, this.target.address));
    });
    back.on('message', (data) => {
      const peer = this.peer;
      if (peer) this.pass(data, this.down, () => this.front.send(data, peer.port, peer.address));
    });
    // ICMP port unreachable while one side restarts: not a reason to stop relaying.
    front.on('error', () => undefined);
    back.on('error', () => undefined);
  }

  static async open(target: { address: string; port: number }, options: ImpairmentOptions = {}, ports = { port: options.portRange?.[0] ?? 0 }, random = seededRandom(options.seed ?? 1)): Promise<ImpairmentRelay> {
    const front = await bindIn(options.portRange, ports);
    const back = await bindIn(options.portRange, ports);
    return new ImpairmentRelay(front, back, target, options, random);
  }

  /** The port the peer sends to instead of the server's. */
  get port(): number {
    return this.front.address().port;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.front.close();
    this.back.close();
  }

  /** Per direction: the loss owed so far, and the level at which the next drop falls (0.5-1.5, seeded). */
  private readonly owed = new Map<DirectionStats, { debt: number; next: number }>();

  private pass(data: Buffer, stats: DirectionStats, send: () => void): void {
    if (this.closed) return;
    const loss = this.options.loss ?? 0;
    if (loss > 0) {
      let state = this.owed.get(stats);
      if (!state) {
        state = { debt: 0, next: 0.5 + this.random() };
        this.owed.set(stats, state);
      }
      state.debt += loss;
      if (state.debt >= state.next) {
        state.debt -= 1;
        state.next = 0.5 + this.random();
        stats.dropped++;
        return;
      }
    }
    stats.forwarded++;
    const delay = this.options.delayMs ?? 0;
    if (delay <= 0) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) send();
    }, delay);
    this.timers.add(timer);
  }
}

const CANDIDATE = /^(a=)?(candidate:\S+ \d+ udp \d+ )(\S+) (\d+)( typ .*)$/i;

/**
 * The impaired path of one peer: a relay per server address it learns of. Feed the
 * server's candidates (trickled, or in its SDP) through candidate()/sdp() before giving
 * them to the peer, and keep the peer's candidates from the server (stripPeerCandidates()
 * on its offer, no trickle): the server then learns the peer only from the relay.
 */
export class ImpairedPath {
  private readonly relays = new Map<string, Promise<ImpairmentRelay>>();
  private readonly ports: { port: number };
  private readonly random: () => number;

  constructor(private readonly options: ImpairmentOptions) {
    this.ports = { port: options.portRange?.[0] ?? 0 };
    this.random = seededRandom(options.seed ?? 1);
  }

  /** A server candidate line ("candidate:..." or "a=candidate:...") pointing at its relay instead. Non-UDP ones are kept. */
  async candidate(line: string): Promise<string> {
    const m = CANDIDATE.exec(line.trim());
    if (!m) return line;
    const [, prefix = '', head, address, port, tail] = m;
    const key = `${address!}:${port!}`;
    let relay = this.relays.get(key);
    if (!relay) {
      relay = ImpairmentRelay.open({ address: address!, port: Number(port) }, this.options, this.ports, this.random);
      this.relays.set(key, relay);
    }
    return `${prefix}${head!}127.0.0.1 ${(await relay).port}${tail!}`;
  }

  /** An SDP from the server with its candidates pointing at relays. */
  async sdp(sdp: string): Promise<string> {
    const lines = sdp.split('\r\n');
    for (let i = 0; i < lines.length; i++) if (lines[i]!.startsWith('a=candidate:')) lines[i] = await this.candidate(lines[i]!);
    return lines.join('\r\n');
  }

  /** Both directions summed over the relays. */
  async stats(): Promise<{ up: DirectionStats; down: DirectionStats }> {
    const sum = { up: { forwarded: 0, dropped: 0 }, down: { forwarded: 0, dropped: 0 } };
    for (const relay of await Promise.all(this.relays.values())) {
      for (const dir of ['up', 'down'] as const) {
        sum[dir].forwarded += relay[dir].forwarded;
        sum[dir].dropped += relay[dir].dropped;
      }
    }
    return sum;
  }

  async close(): Promise<void> {
    for (const relay of await Promise.all(this.relays.values())) relay.close();
    this.relays.clear();
  }
}

/** An SDP without its candidates (the peer's, kept from the server so that it learns the peer through the relay only). */
export function stripPeerCandidates(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((line) => !line.startsWith('a=candidate:') && !line.startsWith('a=end-of-candidates'))
    .join('\r\n');
}
