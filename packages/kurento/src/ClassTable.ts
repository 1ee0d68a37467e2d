import type { ClassDef, KurentoModule } from './ClassDef.js';

/** The modules KMS serves ("core", "elements", "filters"), whose descriptors getKmd returns. */
export const KURENTO_MODULES: readonly KurentoModule[] = ['core', 'elements', 'filters'];

export function isKurentoModule(name: string): name is KurentoModule {
  return (KURENTO_MODULES as readonly string[]).includes(name);
}

/**
 * Every remote class, found by its bare name ("WebRtcEndpoint") or its module-qualified
 * one ("kurento.WebRtcEndpoint"), as KMS registers each factory under both.
 */
export class ClassTable {
  private readonly byName = new Map<string, ClassDef>();

  constructor(defs: Iterable<ClassDef>) {
    for (const def of defs) {
      this.byName.set(def.name, def);
      this.byName.set(def.qualifiedName, def);
    }
  }

  get(name: string): ClassDef | undefined {
    return this.byName.get(name);
  }

  /** Each class once. */
  *values(): Generator<ClassDef> {
    for (const [name, def] of this.byName) if (name === def.name) yield def;
  }

  /** The creatable classes of a module, by bare name, as KMS lists a module's factories. */
  factoriesOf(module: KurentoModule): string[] {
    return [...this.values()].filter((d) => d.creatable && d.module === module).map((d) => d.name);
  }

  /**
   * A module descriptor in the shape of KMS's kmd.json: each remote class with its
   * parent, abstractness and its own properties, methods and events. Roundtable's
   * class table has no parameter or return types, so those are left out.
   */
  kmdOf(module: KurentoModule, version: string): Record<string, unknown> {
    const remoteClasses = [...this.values()]
      .filter((d) => d.module === module && !d.spec.unsupported)
      .map((d) => ({
        name: d.name,
        ...(d.parentDef ? { extends: d.parentDef.name } : {}),
        ...(d.creatable ? {} : { abstract: true }),
        properties: Object.entries(d.spec.properties ?? {}).map(([name, p]) => ({ name, ...(p.readOnly || !p.set ? { readOnly: true } : {}) })),
        methods: Object.keys(d.spec.methods ?? {}).map((name) => ({ name })),
        events: Object.keys(d.spec.events ?? {}),
      }));
    return { name: module, version, kurentoVersion: version, imports: module === 'core' ? [] : [{ name: 'core', version }], code: { api: { js: { nodeName: `kurento-client-${module}`, npmVersion: version } } }, remoteClasses };
  }
}
