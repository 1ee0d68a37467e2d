import type { Engine, MediaConfig } from '@roundtable/media';
import type { HttpPostServer } from './http/HttpPostServer.js';
import type { ClassTable } from './ClassTable.js';
import type { Params } from './Params.js';
import type { RemoteObject } from './RemoteObject.js';

/** What operations, properties and events can reach of the server. */
export interface CallContext {
  readonly server: ServerFacade;
}

export interface ServerFacade {
  /** The Kurento id of an engine object, if it is a live remote object. */
  idOf(target: object): string | undefined;
  /** Pipelines owned by a session. */
  pipelinesOf(owner: RemoteObject['owner']): RemoteObject[];
  /** Listens to objects created/destroyed in a session; returns the detach function. */
  onObjectLifecycle(owner: RemoteObject['owner'], listener: (event: 'created' | 'destroyed', id: string) => void): () => void;
  readonly mediaConfig: Partial<MediaConfig>;
  /** The media engine the server's pipelines are made in. */
  readonly engine: Engine;
  readonly version: string;
  /** URLs of HttpPostEndpoints, served on the server's own HTTP port. */
  readonly httpPost: HttpPostServer;
  /** Folder of the local copies of recordings to http(s) URIs (undefined: the engine's default). */
  readonly recordingSpoolDir: string | undefined;
  /** The remote classes, by bare and qualified name. */
  readonly classes: ClassTable;
}

export type Operation = (obj: RemoteObject, params: Params, ctx: CallContext) => unknown;

export interface PropertyDef {
  get?: (obj: RemoteObject, ctx: CallContext) => unknown;
  set?: (obj: RemoteObject, value: Params, ctx: CallContext) => void;
  /** Readable by get<Prop> only (RO or final in the Kurento API). */
  readOnly?: boolean;
}

/** Emits one event to the subscriber; returns nothing. */
export type Emit = (data: Record<string, unknown>) => void;
/** Attaches an event to the engine object; returns the detach function. */
export type EventBinder = (obj: RemoteObject, emit: Emit, ctx: CallContext) => () => void;

export interface Created {
  target: object;
  parent: RemoteObject | undefined;
}

/** The Kurento modules whose classes Roundtable serves. */
export type KurentoModule = 'core' | 'elements' | 'filters';

export interface ClassSpec {
  name: string;
  parent?: string;
  /**
   * The Kurento module the class belongs to. Default: 'core' for the classes of KMS's
   * core module, 'filters' for a Filter, 'elements' for anything else.
   */
  module?: KurentoModule;
  abstract?: boolean;
  /** Known to the API but not built yet: create() answers "not supported". */
  unsupported?: boolean;
  create?: (params: Params, ctx: CallContext) => Created | Promise<Created>;
  /** Runs once the remote object exists (before any client can subscribe). */
  onCreated?: (obj: RemoteObject) => void;
  methods?: Record<string, Operation>;
  properties?: Record<string, PropertyDef>;
  events?: Record<string, EventBinder>;
}

/** The classes of KMS's core module (kms-core); the rest are elements or filters. */
const CORE_CLASSES = new Set([
  'MediaObject',
  'ServerManager',
  'MediaPipeline',
  'MediaElement',
  'Endpoint',
  'Filter',
  'Hub',
  'HubPort',
  'PassThrough',
  'SessionEndpoint',
  'SdpEndpoint',
  'BaseRtpEndpoint',
  'UriEndpoint',
]);

const QUALIFIER: Readonly<Record<KurentoModule, string>> = { core: 'kurento', elements: 'kurento', filters: 'kurento' };

/** A remote class with its ancestry resolved. */
export class ClassDef {
  constructor(
    readonly spec: ClassSpec,
    readonly parentDef: ClassDef | undefined,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  get module(): KurentoModule {
    if (this.spec.module) return this.spec.module;
    if (CORE_CLASSES.has(this.name)) return 'core';
    return this.isA('Filter') ? 'filters' : 'elements';
  }

  /**
   * The module-qualified name, as KMS registers it beside the bare one: its core,
   * elements and filters modules all use the prefix "kurento".
   */
  get qualifiedName(): string {
    return `${QUALIFIER[this.module]}.${this.name}`;
  }

  /** Ancestors, nearest first, qualified like KMS ("kurento.MediaElement"). */
  get hierarchy(): string[] {
    const out: string[] = [];
    for (let d = this.parentDef; d; d = d.parentDef) out.push(d.qualifiedName);
    return out;
  }

  /** Creatable by `create` (KMS has a factory for it). */
  get creatable(): boolean {
    return this.spec.create !== undefined && !this.spec.abstract && !this.spec.unsupported;
  }

  /** This class, then its ancestors. */
  private *lineage(): Generator<ClassDef> {
    yield this;
    for (let d = this.parentDef; d; d = d.parentDef) yield d;
  }

  isA(name: string): boolean {
    for (const d of this.lineage()) if (d.name === name) return true;
    return false;
  }

  findMethod(name: string): Operation | undefined {
    for (const d of this.lineage()) {
      const m = d.spec.methods?.[name];
      if (m) return m;
    }
    return undefined;
  }

  findProperty(name: string): PropertyDef | undefined {
    for (const d of this.lineage()) {
      const p = d.spec.properties?.[name];
      if (p) return p;
    }
    return undefined;
  }

  findEvent(name: string): EventBinder | undefined {
    for (const d of this.lineage()) {
      const e = d.spec.events?.[name];
      if (e) return e;
    }
    return undefined;
  }
}
