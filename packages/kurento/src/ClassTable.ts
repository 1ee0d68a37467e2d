import type { ClassDef, KurentoModule } from './ClassDef.js';

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
}
