import { CandidatePairState, type RTCPeerConnection } from 'werift';

/** The parts of werift's ICE `Connection` this module touches. */
interface IceConnectionInternals {
  iceControlling: boolean;
  nominated?: unknown;
  checkComplete(pair: IcePairInternals): void;
}

interface IcePairInternals {
  nominated: boolean;
  remoteNominated: boolean;
  state: CandidatePairState;
}

const FOLLOWING = Symbol('roundtable.followsRenomination');

/**
 * werift (0.24), as the controlled agent, keeps the first pair the peer nominated for
 * good (RFC 8445 §7.3.1.5 read strictly). A browser (libwebrtc) as the controlling agent
 * nominates again when it switches to another pair, and after a while prunes the pair
 * it left. werift then sends its consent checks and media on a pair the browser no
 * longer answers on, and fails the connection 30 s later (RFC 7675) while the browser
 * still says connected. libwebrtc's controlled side follows the latest nomination;
 * this makes werift's do the same: a succeeded pair the peer nominates after the first
 * one becomes the selected pair (werift then restarts consent freshness on it).
 */
export function followRenomination(pc: RTCPeerConnection): void {
  for (const transport of pc.iceTransports) {
    const connection = transport.connection as unknown as IceConnectionInternals & { [FOLLOWING]?: true };
    if (connection[FOLLOWING]) continue;
    connection[FOLLOWING] = true;
    const checkComplete = connection.checkComplete.bind(connection);
    connection.checkComplete = (pair: IcePairInternals): void => {
      const current = connection.nominated;
      if (
        current !== undefined &&
        current !== pair &&
        !connection.iceControlling &&
        pair.remoteNominated &&
        pair.nominated &&
        pair.state === CandidatePairState.SUCCEEDED
      ) {
        // werift takes a nomination only while none is set: clear it and let werift
        // select the new pair with its own bookkeeping (consent restart included).
        connection.nominated = undefined;
      }
      checkComplete(pair);
    };
  }
}
