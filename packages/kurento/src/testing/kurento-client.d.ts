// Minimal typings for the parts of the official `kurento-client` package the tests use.
declare module 'kurento-client' {
  export interface KurentoObject {
    readonly id: string;
    on(event: string, listener: (event: Record<string, unknown>) => void): this;
    once(event: string, listener: (event: Record<string, unknown>) => void): this;
    release(): Promise<void>;
    [operation: string]: unknown;
  }
  export interface MediaPipeline extends KurentoObject {
    create(type: string, params?: Record<string, unknown>): Promise<KurentoElement>;
  }
  export interface KurentoElement extends KurentoObject {
    connect(sink: KurentoElement, mediaType?: string): Promise<void>;
    disconnect(sink: KurentoElement, mediaType?: string): Promise<void>;
    processOffer(offer: string): Promise<string>;
    generateOffer(options?: unknown): Promise<string>;
    processAnswer(answer: string): Promise<string>;
    getLocalSessionDescriptor(): Promise<string>;
    getRemoteSessionDescriptor(): Promise<string>;
    gatherCandidates(): Promise<void>;
    addIceCandidate(candidate: unknown): Promise<void>;
    getSourceConnections(mediaType?: string): Promise<Array<Record<string, unknown>>>;
    getSinkConnections(mediaType?: string): Promise<Array<Record<string, unknown>>>;
    isMediaFlowingIn(mediaType: string): Promise<boolean>;
    getStats(mediaType?: string): Promise<Record<string, Record<string, unknown>>>;
  }
  export interface KurentoClientInstance {
    readonly sessionId: string;
    create(type: 'MediaPipeline'): Promise<MediaPipeline>;
    create(type: string, params?: Record<string, unknown>): Promise<KurentoElement>;
    getServerManager(): Promise<KurentoObject>;
    getMediaobjectById(id: string): Promise<KurentoObject>;
    close(): void;
    on(event: string, listener: (...args: unknown[]) => void): void;
  }
  interface KurentoClientFactory {
    (url: string, options?: Record<string, unknown>): Promise<KurentoClientInstance>;
    getComplexType(name: string): (value: Record<string, unknown>) => unknown;
  }
  const kurentoClient: KurentoClientFactory;
  export default kurentoClient;
}
