import kurentoClient, { type KurentoClientInstance, type MediaPipeline } from 'kurento-client';
import { describe, expect, it } from 'vitest';
import { ClassDef, type ClassSpec } from './ClassDef.js';
import { ClassTable } from './ClassTable.js';
import { RawClient } from './testing/RawClient.js';
import { useKurentoHarness } from './testing/harness.js';

const h = useKurentoHarness([62200, 62249]);
const MANAGER = 'manager_ServerManager';

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(h.url);
  h.cleanup.push(() => c.close());
  return c;
}

interface ModuleInfo {
  name: string;
  factories: string[];
}

describe('Kurento type names: bare and module-qualified, as KMS registers them', () => {
  it('every factory of getInfo is created under its bare and its kurento.-qualified name', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'kurento.MediaPipeline' });
    expect(pipeline).toMatch(/_kurento\.MediaPipeline$/);
    const info = await c.value<{ modules: ModuleInfo[] }>('invoke', { object: MANAGER, operation: 'getInfo' });
    const factories = info.modules.flatMap((m) => m.factories);
    expect(factories).toEqual(expect.arrayContaining(['MediaPipeline', 'PassThrough', 'HubPort', 'WebRtcEndpoint', 'RtpEndpoint', 'Composite', 'PlayerEndpoint', 'RecorderEndpoint']));
    // getInfo lists bare names, as KMS's ModuleInfo does.
    expect(factories.filter((f) => f.includes('.'))).toEqual([]);
    for (const type of factories) {
      for (const name of [type, `kurento.${type}`]) {
        // Each may want more constructor parameters; what matters is that the factory is found.
        const r = await c.request('create', { type: name, constructorParams: { mediaPipeline: pipeline } });
        expect(r.error?.code, `${name}: ${r.error?.message}`).not.toBe(40108);
        if (r.result?.value) expect(r.result.value).toMatch(new RegExp(`_kurento\\.${type}$`));
      }
    }
  });

  it('describe answers the bare type, the qualified type and the qualified hierarchy', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const ep = await c.value<string>('create', { type: 'kurento.WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline } });
    const pass = await c.value<string>('create', { type: 'kurento.PassThrough', constructorParams: { mediaPipeline: pipeline } });
    expect((await c.request('describe', { object: ep })).result).toEqual({
      type: 'WebRtcEndpoint',
      qualifiedType: 'kurento.WebRtcEndpoint',
      hierarchy: ['kurento.BaseRtpEndpoint', 'kurento.SdpEndpoint', 'kurento.SessionEndpoint', 'kurento.Endpoint', 'kurento.MediaElement', 'kurento.MediaObject'],
      sessionId: c.sessionId,
    });
    expect((await c.request('describe', { object: pass })).result).toMatchObject({ type: 'PassThrough', qualifiedType: 'kurento.PassThrough', hierarchy: ['kurento.MediaElement', 'kurento.MediaObject'] });
    expect((await c.request('describe', { object: pipeline })).result).toMatchObject({ type: 'MediaPipeline', qualifiedType: 'kurento.MediaPipeline', hierarchy: ['kurento.MediaObject'] });
    expect((await c.request('describe', { object: MANAGER })).result).toMatchObject({ type: 'ServerManager', qualifiedType: 'kurento.ServerManager' });
  });

  it('a transaction creates qualified types and resolves its newref: references', async () => {
    const c = await client();
    const results = await c.value<Array<{ result?: { value?: string }; error?: { code: number } }>>('transaction', {
      operations: [
        { jsonrpc: '2.0', id: 0, method: 'create', params: { type: 'kurento.MediaPipeline' } },
        { jsonrpc: '2.0', id: 1, method: 'create', params: { type: 'kurento.WebRtcEndpoint', constructorParams: { mediaPipeline: 'newref:0' } } },
        { jsonrpc: '2.0', id: 2, method: 'create', params: { type: 'kurento.MediaElement', constructorParams: { mediaPipeline: 'newref:0' } } },
      ],
    });
    expect(results[0]!.result?.value).toMatch(/_kurento\.MediaPipeline$/);
    expect(results[1]!.result?.value).toMatch(new RegExp(`^${results[0]!.result!.value!}/.*_kurento\\.WebRtcEndpoint$`));
    expect(results[2]!.error?.code).toBe(40108);
  });

  it('abstract classes, other modules and unknown names answer KMS\'s 40108 "Factory not found" and make nothing', async () => {
    const c = await client();
    const pipeline = await c.value<string>('create', { type: 'MediaPipeline' });
    const before = h.server.objectCount;
    for (const type of ['MediaElement', 'kurento.MediaObject', 'kurento.ServerManager', 'kurento.Endpoint', 'elements.WebRtcEndpoint', 'core.MediaPipeline', 'Kurento.MediaPipeline', 'kurento.', 'NoSuchType', 'x'.repeat(10_000)]) {
      const r = await c.request('create', { type, constructorParams: { mediaPipeline: pipeline } });
      expect(r.error?.code, type.slice(0, 40)).toBe(40108);
      expect(r.error?.data?.type).toBe('MEDIA_OBJECT_NOT_AVAILABLE');
      expect(r.error?.message.length).toBeLessThan(200);
    }
    expect((await c.request('create', { type: 42 })).error?.code).toBe(-32602);
    expect(h.server.objectCount).toBe(before);
  });

  it('getKmd describes each module\'s classes; another module name answers 40500', async () => {
    const c = await client();
    const core = JSON.parse(await c.value<string>('invoke', { object: MANAGER, operation: 'getKmd', operationParams: { moduleName: 'core' } })) as {
      name: string;
      remoteClasses: Array<{ name: string; extends?: string; abstract?: boolean; methods: Array<{ name: string }>; events: string[] }>;
    };
    expect(core.name).toBe('core');
    const byName = new Map(core.remoteClasses.map((rc) => [rc.name, rc]));
    expect(byName.get('MediaObject')).toMatchObject({ abstract: true });
    expect(byName.get('MediaPipeline')).toMatchObject({ extends: 'MediaObject' });
    expect(byName.get('MediaPipeline')?.abstract).toBeUndefined();
    expect(byName.get('MediaElement')?.methods.map((m) => m.name)).toContain('connect');
    expect(byName.has('WebRtcEndpoint')).toBe(false);
    const elements = JSON.parse(await c.value<string>('invoke', { object: MANAGER, operation: 'getKmd', operationParams: { moduleName: 'elements' } })) as typeof core;
    expect(elements.remoteClasses.find((rc) => rc.name === 'WebRtcEndpoint')).toMatchObject({ extends: 'BaseRtpEndpoint' });
    expect(elements.remoteClasses.find((rc) => rc.name === 'WebRtcEndpoint')?.events).toContain('IceCandidateFound');
    const nope = await c.request('invoke', { object: MANAGER, operation: 'getKmd', operationParams: { moduleName: 'kurento' } });
    expect(nope.error).toMatchObject({ code: 40500, data: { type: 'SERVER_MANAGER_ERROR_KMD_NOT_FOUND' } });
  });

  it('a class added to the table gets its module and qualified name from its ancestry', () => {
    const specs: ClassSpec[] = [
      { name: 'MediaObject', abstract: true },
      { name: 'MediaElement', parent: 'MediaObject', abstract: true },
      { name: 'Filter', parent: 'MediaElement', abstract: true },
      { name: 'FaceOverlayFilter', parent: 'Filter', create: () => ({ target: {}, parent: undefined }) },
      { name: 'HttpPostEndpoint', parent: 'MediaElement', create: () => ({ target: {}, parent: undefined }) },
    ];
    const defs = new Map<string, ClassDef>();
    for (const spec of specs) defs.set(spec.name, new ClassDef(spec, spec.parent ? defs.get(spec.parent) : undefined));
    const table = new ClassTable(defs.values());
    expect(table.get('kurento.FaceOverlayFilter')).toBe(defs.get('FaceOverlayFilter'));
    expect(defs.get('FaceOverlayFilter')?.module).toBe('filters');
    expect(defs.get('FaceOverlayFilter')?.hierarchy).toEqual(['kurento.Filter', 'kurento.MediaElement', 'kurento.MediaObject']);
    expect(defs.get('HttpPostEndpoint')?.module).toBe('elements');
    expect(table.factoriesOf('filters')).toEqual(['FaceOverlayFilter']);
    expect(table.factoriesOf('elements')).toEqual(['HttpPostEndpoint']);
    expect(table.factoriesOf('core')).toEqual([]);
    expect([...table.values()].map((d) => d.name)).toEqual(specs.map((s) => s.name));
  });
});

describe('Kurento type names with the official kurento-client', () => {
  it('creates kurento.-qualified types, chained before their parents exist, and rebuilds them from describe', async () => {
    const kurento = await kurentoClient(h.url, { failAfter: 1 });
    h.cleanup.push(() => kurento.close());
    const pipeline = (await kurento.create('kurento.MediaPipeline')) as unknown as MediaPipeline;
    expect(pipeline.id).toMatch(/_kurento\.MediaPipeline$/);
    const ep = await pipeline.create('kurento.WebRtcEndpoint');
    expect(ep.id).toMatch(/_kurento\.WebRtcEndpoint$/);
    expect(await ep.generateOffer()).toMatch(/^v=0/);

    // Not awaited: the client sends the child's create once the pipeline's id is known.
    const chained = kurento.create('kurento.MediaPipeline') as unknown as MediaPipeline & Promise<MediaPipeline>;
    const pass = chained.create('kurento.PassThrough');
    const [p, e] = await Promise.all([chained, pass]);
    expect(e.id).toMatch(new RegExp(`^${p.id}/.*_kurento\\.PassThrough$`));

    // The client instance itself (kurentoClient() hands out a wrapper) can forget its
    // objects: then it asks describe and builds each object's class from the answer.
    const instance = (kurento as unknown as { getServerManager(): Promise<{ getPipelines(): Promise<Array<{ id: string }>> }> });
    const Client = (kurentoClient as unknown as { KurentoClient: new (url: string, options: object) => KurentoClientInstance & { _resetCache(): void } }).KurentoClient;
    const raw = new Client(h.url, { failAfter: 1 });
    h.cleanup.push(() => raw.close());
    await raw.getServerManager();
    const own = (await raw.create('kurento.MediaPipeline')) as unknown as MediaPipeline;
    const rtp = await own.create('kurento.RtpEndpoint');
    raw._resetCache();
    const described = await raw.getMediaobjectById(rtp.id);
    expect(described).not.toBe(rtp);
    expect(typeof described.generateOffer).toBe('function');
    expect(typeof described.getConnectionState).toBe('function');
    expect(await (described.generateOffer as () => Promise<string>)()).toMatch(/^v=0/);
    expect((await (await instance.getServerManager()).getPipelines()).map((pl) => pl.id)).toEqual([pipeline.id, p.id]);

    const manager = await kurento.getServerManager();
    const kmd = JSON.parse(await (manager.getKmd as (m: string) => Promise<string>)('elements')) as { remoteClasses: Array<{ name: string }> };
    expect(kmd.remoteClasses.map((rc) => rc.name)).toContain('WebRtcEndpoint');
  });
});
