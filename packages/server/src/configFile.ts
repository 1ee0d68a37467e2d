/**
 * The config file: JSON (`.json`) or YAML (anything else; YAML also reads JSON). Its
 * keys are the settings' keys, sections for the dotted ones:
 *
 *   port: 8080
 *   media: { portRange: 40000-49999 }
 *
 * Unknown keys are errors (a typo would otherwise be silently ignored); `null` (an empty
 * YAML value) means "the default".
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ConfigProblem } from './errors.js';
import { SETTINGS, SETTING_KEYS, type SettingKey, type SettingSpec, type SettingValues } from './settings.js';

export interface ConfigFileValues {
  values: SettingValues;
  /** Where each value came from: 'port in roundtable.yaml'. */
  where: Partial<Record<SettingKey, string>>;
}

/** The file's shape: strict sections of optional settings, made from `SETTINGS`. */
function fileSchema() {
  const top: Record<string, z.ZodType> = {};
  const sections = new Map<string, Record<string, z.ZodType>>();
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    const [section, name] = key.split('.');
    if (name === undefined || section === undefined) {
      top[key] = spec.schema.optional();
      continue;
    }
    const shape = sections.get(section) ?? {};
    shape[name] = spec.schema.optional();
    sections.set(section, shape);
  }
  for (const [section, shape] of sections) {
    top[section] = z.strictObject(shape, { error: (issue) => (issue.code === 'invalid_type' ? `expected a section with the keys ${Object.keys(shape).join(', ')}` : undefined) }).optional();
  }
  return z.strictObject(top, { error: (issue) => (issue.code === 'invalid_type' ? 'expected a mapping of settings at the top of the file' : undefined) });
}

const FILE_SCHEMA = fileSchema();

/**
 * Reads and validates a config file. `label` is how messages name the file (the path as
 * the operator gave it); `via` is where that path came from (--config, ROUNDTABLE_CONFIG).
 * Returns the values by key, or the problems found.
 */
export function readConfigFile(path: string, via: string, cwd: string): ConfigFileValues | ConfigProblem[] {
  const absolute = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (error) {
    return [{ setting: 'config', where: via, reason: `cannot read the config file '${path}': ${errorText(error)}` }];
  }
  let data: unknown;
  try {
    data = extname(absolute).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return [{ setting: 'config', where: path, reason: `not valid ${extname(absolute).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${errorText(error)}` }];
  }
  const result = FILE_SCHEMA.safeParse(withoutNulls(data ?? {}));
  if (!result.success) return result.error.issues.map((issue) => problemOf(issue, path));

  const values: Record<string, unknown> = {};
  const where: Partial<Record<SettingKey, string>> = {};
  for (const key of SETTING_KEYS) {
    const value = valueAt(result.data, key);
    if (value === undefined) continue;
    const spec: SettingSpec = SETTINGS[key];
    values[key] = spec.isPath && typeof value === 'string' && !isAbsolute(value) ? resolve(dirname(absolute), value) : value;
    where[key] = `${key} in ${path}`;
  }
  // Each value was produced by SETTINGS[key].schema, which is what SettingValues says.
  return { values: values as SettingValues, where };
}

function problemOf(issue: z.core.$ZodIssue, file: string): ConfigProblem {
  const key = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys.map((k) => `'${key ? `${key}.` : ''}${k}'`).join(', ');
    return { setting: key || 'config', where: file, reason: `unknown key${issue.keys.length > 1 ? 's' : ''} ${unknown} (known here: ${knownKeysUnder(key).join(', ')})` };
  }
  return { setting: key || 'config', where: key ? `${key} in ${file}` : file, reason: issue.message };
}

function knownKeysUnder(section: string): string[] {
  const names = new Set<string>();
  for (const key of SETTING_KEYS) {
    if (section === '') names.add(key.split('.')[0]!);
    else if (key.startsWith(`${section}.`)) names.add(key.slice(section.length + 1));
  }
  return [...names];
}

function valueAt(data: unknown, key: string): unknown {
  let node: unknown = data;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** YAML writes "use the default" as an empty value, which parses as null. */
function withoutNulls(data: unknown): unknown {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return data;
  return Object.fromEntries(
    Object.entries(data)
      .filter(([, value]) => value !== null)
      .map(([key, value]) => [key, withoutNulls(value)]),
  );
}

/** The first line of an error (YAML errors go on with a code frame after a colon). */
function errorText(error: unknown): string {
  const first = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  return first.replace(/:$/, '');
}
