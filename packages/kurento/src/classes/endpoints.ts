import { networkInterfaces } from 'node:os';
import { MediaPipeline, WebRtcEndpoint, type ConnectionState, type EndpointStats, type EventMap, type IceServerConfig, type TypedEmitter } from '@roundtable/media';
import type { ClassSpec, Emit } from '../ClassDef.js';
import { KurentoError } from '../errors.js';
import { IceComponentTracker } from '../IceComponentTracker.js';
import { kindsOf } from '../Params.js';
import type { RemoteObject } from '../RemoteObject.js';
import { complex, iceCandidate, rtpStats } from '../values.js';
import { storedProperty, targetOf } from './helpers.js';
import { sdpNegotiation, type SdpNegotiator } from './sdpNegotiation.js';

/** What SDP-negotiated engine endpoints (WebRtcEndpoint, RtpEndpoint) have in common. */
interface SdpTarget extends SdpNegotiator {
  getConnectionState(): ConnectionState;
  getStats(): EndpointStats;
}

type SessionEvents = EventMap & { connectionStateChange: [ConnectionState]; negotiated: [] };

function sdpTarget(obj: RemoteObject): SdpTarget & TypedEmitter<SessionEvents> {
  const t = obj.target as Partial<SdpTarget>;
  if (typeof t.processOffer !== 'function' || typeof t.getConnectionState !== 'function') {
    throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', `${obj.type} is not an SDP endpoint`);
  }
  return obj.target as SdpTarget & TypedEmitter<SessionEvents>;
}

const up = (s: ConnectionState): 'CONNECTED' | 'DISCONNECTED' => (s === 'connected' ? 'CONNECTED' : 'DISCONNECTED');

/** MediaStateChanged / ConnectionStateChanged: CONNECTED while the transport is up. */
function stateEvent(obj: RemoteObject, emit: Emit): () => void {
  let last = up(sdpTarget(obj).getConnectionState());
  return sdpTarget(obj).subscribe('connectionStateChange', (s) => {
    const next = up(s);
    if (next === last) return;
    emit({ oldState: last, newState: next });
    last = next;
  });
}

/** MediaSessionStarted: as KMS, when processOffer or processAnswer succeeds. */
const sessionStarted = (obj: RemoteObject, emit: Emit): (() => void) => sdpTarget(obj).subscribe('negotiated', () => emit({}));

/** MediaSessionTerminated: the transport of a session that connected failed or closed. */
function sessionTerminated(obj: RemoteObject, emit: Emit): () => void {
  let connected = sdpTarget(obj).getConnectionState() === 'connected';
  return sdpTarget(obj).subscribe('connectionStateChange', (s) => {
    if (s === 'connected') connected = true;
    else if ((s === 'failed' || s === 'closed') && connected) {
      connected = false;
      emit({});
    }
  });
}

export const SessionEndpointSpec: ClassSpec = {
  name: 'SessionEndpoint',
  parent: 'Endpoint',
  abstract: true,
  events: { MediaSessionStarted: sessionStarted, MediaSessionTerminated: sessionTerminated },
};

export const SdpEndpointSpec: ClassSpec = {
  name: 'SdpEndpoint',
  parent: 'SessionEndpoint',
  abstract: true,
  properties: {
    maxAudioRecvBandwidth: storedProperty('maxAudioRecvBandwidth', 0, 'int'),
    maxVideoRecvBandwidth: {
      get: (obj) => (obj.target instanceof WebRtcEndpoint ? (obj.target.getMaxVideoRecvBandwidth() ?? 0) : (obj.stored.get('maxVideoRecvBandwidth') ?? 0)),
      set: (obj, p) => {
        const kbps = p.int('maxVideoRecvBandwidth');
        if (obj.target instanceof WebRtcEndpoint) obj.target.setMaxVideoRecvBandwidth(kbps);
        else obj.stored.set('maxVideoRecvBandwidth', kbps);
      },
    },
  },
  methods: {
    generateOffer: (obj, p) => sdpNegotiation.generateOffer(obj, sdpTarget(obj), p),
    processOffer: (obj, p) => sdpNegotiation.processOffer(obj, sdpTarget(obj), p.string('offer')),
    processAnswer: (obj, p) => sdpNegotiation.processAnswer(obj, sdpTarget(obj), p.string('answer')),
    getLocalSessionDescriptor: (obj) => sdpNegotiation.localDescriptor(sdpTarget(obj)),
    getRemoteSessionDescriptor: (obj) => sdpNegotiation.remoteDescriptor(sdpTarget(obj)),
    getStats: (obj, p) => {
      const kinds = kindsOf(p.mediaType('mediaType')) ?? ['audio', 'video'];
      const stats = sdpTarget(obj).getStats();
      const out: Record<string, unknown> = {};
      for (const kind of kinds) {
        const ep = obj.target instanceof WebRtcEndpoint ? obj.target : undefined;
        const ssrcs = { in: ep?.getInboundStream(kind)?.ssrc, out: ep?.getOutboundSsrc(kind) };
        Object.assign(out, rtpStats(obj.id, ssrcs, kind, stats[kind]));
      }
      return out;
    },
  },
};

export const BaseRtpEndpointSpec: ClassSpec = {
  name: 'BaseRtpEndpoint',
  parent: 'SdpEndpoint',
  abstract: true,
  properties: {
    minVideoRecvBandwidth: storedProperty('minVideoRecvBandwidth', 0, 'int'),
    minVideoSendBandwidth: storedProperty('minVideoSendBandwidth', 100, 'int'),
    maxVideoSendBandwidth: storedProperty('maxVideoSendBandwidth', 500, 'int'),
    mediaState: { get: (obj) => up(sdpTarget(obj).getConnectionState()), readOnly: true },
    connectionState: { get: (obj) => up(sdpTarget(obj).getConnectionState()), readOnly: true },
    mtu: storedProperty('mtu', 1200, 'int'),
    rembParams: storedProperty('rembParams', undefined),
  },
  events: { MediaStateChanged: stateEvent, ConnectionStateChanged: stateEvent },
};

/** Parses Kurento's turnUrl: `user:password@address:port(?transport=udp|tcp|tls)`. */
export function parseTurnUrl(url: string): IceServerConfig {
  const m = /^([^:@]+):([^@]+)@([^:?]+):(\d+)(?:\?transport=(udp|tcp|tls))?$/.exec(url);
  if (!m) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `turnUrl must look like user:password@address:port?transport=udp, got '${url}'`);
  const scheme = m[5] === 'tls' ? 'turns' : 'turn';
  const transport = m[5] && m[5] !== 'tls' ? `?transport=${m[5]}` : '';
  return { urls: `${scheme}:${m[3]}:${m[4]}${transport}`, username: m[1]!, credential: m[2]! };
}

/** Rebuilds the endpoint's ICE servers from its Kurento STUN/TURN properties. */
function applyIceServers(obj: RemoteObject): void {
  const ep = targetOf(obj, WebRtcEndpoint);
  const servers: IceServerConfig[] = [];
  const address = obj.stored.get('stunServerAddress');
  const port = obj.stored.get('stunServerPort') ?? 3478;
  if (typeof address === 'string' && address !== '') servers.push({ urls: `stun:${address}:${String(port)}` });
  const turn = obj.stored.get('turnUrl');
  if (typeof turn === 'string' && turn !== '') servers.push(parseTurnUrl(turn));
  ep.setIceServers(servers);
}

const iceCandidateFound = (obj: RemoteObject, emit: Emit) =>
  targetOf(obj, WebRtcEndpoint).subscribe('iceCandidate', (c) => emit({ candidate: iceCandidate(c) }));
const iceGatheringDone = (obj: RemoteObject, emit: Emit) => targetOf(obj, WebRtcEndpoint).subscribe('iceGatheringDone', () => emit({}));
const iceComponentState = (obj: RemoteObject, emit: Emit) =>
  trackerOf(obj).subscribe('state', (state) => emit({ streamId: 0, componentId: 1, state }));

const dataChannelOpen = (obj: RemoteObject, emit: Emit) =>
  targetOf(obj, WebRtcEndpoint).subscribe('dataChannelOpen', (channelId) => emit({ channelId }));
const dataChannelClose = (obj: RemoteObject, emit: Emit) =>
  targetOf(obj, WebRtcEndpoint).subscribe('dataChannelClose', (channelId) => emit({ channelId }));

const unlimited = (n: number | undefined): number | undefined => (n === undefined || n < 0 ? undefined : n);

function trackerOf(obj: RemoteObject): IceComponentTracker {
  const tracker = obj.stored.get('__iceTracker');
  if (!(tracker instanceof IceComponentTracker)) throw new KurentoError('UNEXPECTED_ERROR', 'no ICE tracker');
  return tracker;
}

export const WebRtcEndpointSpec: ClassSpec = {
  name: 'WebRtcEndpoint',
  parent: 'BaseRtpEndpoint',
  create: (p) => {
    const pipeline = p.object('mediaPipeline', 'MediaPipeline');
    const recvonly = p.optBool('recvonly') ?? false;
    const sendonly = p.optBool('sendonly') ?? false;
    if (recvonly && sendonly) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', 'recvonly and sendonly cannot both be set');
    const key = p.optString('certificateKeyType');
    if (key !== undefined && key !== 'RSA' && key !== 'ECDSA') {
      throw new KurentoError('INVALID_PARAMS', "parameter 'certificateKeyType' must be 'RSA' or 'ECDSA'");
    }
    const ep = targetOf(pipeline, MediaPipeline).createWebRtcEndpoint({
      direction: recvonly ? 'recvonly' : sendonly ? 'sendonly' : 'sendrecv',
      useDataChannels: p.optBool('useDataChannels') ?? false,
      rejectUnusableMedia: true,
    });
    return { target: ep, parent: pipeline };
  },
  onCreated: (obj) => {
    // Tracks ICE from the start, so a late subscriber still sees the right state.
    obj.stored.set('__iceTracker', new IceComponentTracker(targetOf(obj, WebRtcEndpoint)));
  },
  properties: {
    externalAddress: {
      get: (obj) => targetOf(obj, WebRtcEndpoint).getAnnouncedAddress() ?? '',
      set: (obj, p) => targetOf(obj, WebRtcEndpoint).setAnnouncedAddress(p.string('externalAddress') || undefined),
    },
    networkInterfaces: {
      get: (obj) => obj.stored.get('networkInterfaces') ?? '',
      set: (obj, p) => {
        const names = p.string('networkInterfaces').split(',').map((n) => n.trim()).filter(Boolean);
        const known = networkInterfaces();
        for (const name of names) {
          if (!known[name]) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `no network interface '${name}' on this server`);
        }
        obj.stored.set('networkInterfaces', names.join(','));
      },
    },
    stunServerAddress: {
      get: (obj) => obj.stored.get('stunServerAddress') ?? '',
      set: (obj, p) => {
        obj.stored.set('stunServerAddress', p.string('stunServerAddress'));
        applyIceServers(obj);
      },
    },
    stunServerPort: {
      get: (obj) => obj.stored.get('stunServerPort') ?? 3478,
      set: (obj, p) => {
        const port = p.int('stunServerPort');
        if (port < 1 || port > 65535) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', 'stunServerPort must be 1-65535');
        obj.stored.set('stunServerPort', port);
        applyIceServers(obj);
      },
    },
    turnUrl: {
      get: (obj) => obj.stored.get('turnUrl') ?? '',
      set: (obj, p) => {
        const url = p.string('turnUrl');
        if (url !== '') parseTurnUrl(url);
        obj.stored.set('turnUrl', url);
        applyIceServers(obj);
      },
    },
    ICECandidatePairs: {
      readOnly: true,
      get: (obj) => {
        const pair = targetOf(obj, WebRtcEndpoint).getSelectedCandidatePair();
        return pair ? [complex('IceCandidatePair', { streamID: '0', componentID: 1, ...pair })] : [];
      },
    },
    IceConnectionState: {
      readOnly: true,
      get: (obj) => [complex('IceConnection', { streamId: '0', componentId: 1, state: trackerOf(obj).current })],
    },
  },
  methods: {
    gatherCandidates: (obj) => targetOf(obj, WebRtcEndpoint).gatherCandidates(),
    addIceCandidate: (obj, p) => {
      const c = p.record('candidate');
      if (typeof c.candidate !== 'string') throw new KurentoError('INVALID_PARAMS', "parameter 'candidate' must be an IceCandidate with a candidate string");
      const sdpMid = typeof c.sdpMid === 'string' ? c.sdpMid : null;
      const sdpMLineIndex = typeof c.sdpMLineIndex === 'number' ? c.sdpMLineIndex : null;
      return targetOf(obj, WebRtcEndpoint).addIceCandidate({ candidate: c.candidate, sdpMid, sdpMLineIndex });
    },
    createDataChannel: (obj, p) =>
      targetOf(obj, WebRtcEndpoint).createDataChannel(p.optString('label') ?? '', {
        ordered: p.optBool('ordered'),
        // KMS takes -1 for "no limit", as the browser API's null.
        maxPacketLifeTime: unlimited(p.optInt('maxPacketLifeTime')),
        maxRetransmits: unlimited(p.optInt('maxRetransmits')),
        protocol: p.optString('protocol'),
      }),
    closeDataChannel: (obj, p) => targetOf(obj, WebRtcEndpoint).closeDataChannel(p.int('channelId')),
  },
  events: {
    IceCandidateFound: iceCandidateFound,
    OnIceCandidate: iceCandidateFound,
    IceGatheringDone: iceGatheringDone,
    OnIceGatheringDone: iceGatheringDone,
    IceComponentStateChange: iceComponentState,
    IceComponentStateChanged: iceComponentState,
    OnIceComponentStateChanged: iceComponentState,
    NewCandidatePairSelected: (obj, emit) =>
      targetOf(obj, WebRtcEndpoint).subscribe('candidatePairSelected', (pair) =>
        emit({ candidatePair: complex('IceCandidatePair', { streamID: '0', componentID: 1, ...pair }) }),
      ),
    DataChannelOpen: dataChannelOpen,
    DataChannelOpened: dataChannelOpen,
    OnDataChannelOpened: dataChannelOpen,
    DataChannelClose: dataChannelClose,
    DataChannelClosed: dataChannelClose,
    OnDataChannelClosed: dataChannelClose,
  },
};
