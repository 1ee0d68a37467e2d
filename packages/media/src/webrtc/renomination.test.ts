import { CandidatePairState, type RTCPeerConnection } from 'werift';
import { describe, expect, it } from 'vitest';
import { followRenomination } from './renomination.js';

interface Pair {
  nominated: boolean;
  remoteNominated: boolean;
  state: CandidatePairState;
}

/** werift's rule, as in its Connection.checkComplete: a nomination is taken only while none is set. */
class StandInConnection {
  nominated: Pair | undefined;
  consentRestarts = 0;
  constructor(readonly iceControlling: boolean) {}
  checkComplete(pair: Pair): void {
    if (pair.state === CandidatePairState.SUCCEEDED && pair.nominated && this.nominated === undefined) {
      this.nominated = pair;
      this.consentRestarts++;
    }
  }
}

function peerWith(connection: StandInConnection): RTCPeerConnection {
  return { iceTransports: [{ connection }] } as unknown as RTCPeerConnection;
}

const nominatedPair = (): Pair => ({ nominated: true, remoteNominated: true, state: CandidatePairState.SUCCEEDED });

describe('followRenomination()', () => {
  it('makes a later pair the peer nominates the selected pair (controlled side)', () => {
    const connection = new StandInConnection(false);
    followRenomination(peerWith(connection));
    const first = nominatedPair();
    const second = nominatedPair();

    connection.checkComplete(first);
    connection.checkComplete(second);

    expect(connection.nominated).toBe(second);
    expect(connection.consentRestarts).toBe(2);
  });

  it('keeps the selected pair for a pair that is not nominated or not succeeded, and when controlling', () => {
    const controlled = new StandInConnection(false);
    followRenomination(peerWith(controlled));
    const first = nominatedPair();
    controlled.checkComplete(first);
    controlled.checkComplete({ nominated: false, remoteNominated: false, state: CandidatePairState.SUCCEEDED });
    controlled.checkComplete({ nominated: true, remoteNominated: true, state: CandidatePairState.IN_PROGRESS });
    expect(controlled.nominated).toBe(first);

    const controlling = new StandInConnection(true);
    followRenomination(peerWith(controlling));
    const mine = nominatedPair();
    controlling.checkComplete(mine);
    controlling.checkComplete(nominatedPair());
    expect(controlling.nominated).toBe(mine);
  });

  it('wraps a connection once however often it is called', () => {
    const connection = new StandInConnection(false);
    const pc = peerWith(connection);
    followRenomination(pc);
    const wrapped = connection.checkComplete;
    followRenomination(pc);
    expect(connection.checkComplete).toBe(wrapped);
  });
});
