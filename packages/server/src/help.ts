/** The text of `roundtable --help` and `roundtable start --help`, made from the settings table. */
import { CONFIG_FILE_SETTING, SECTION_TITLES, SETTINGS, SETTING_KEYS, type SettingKey, type SettingSection, type SettingSpec } from './settings.js';

const WIDTH = 100;
const FLAG_COLUMN = 30;

/** The settings `roundtable migrate` reads (with the config file). */
const MIGRATE_SETTINGS: readonly SettingKey[] = ['signaling.db', 'signaling.dbUrl'];

/** Help for `roundtable` (no command), `roundtable start` or `roundtable migrate`. */
export function helpText(command?: 'start' | 'migrate'): string {
  if (command === 'migrate') return migrateHelp();
  const lines: string[] = [];
  if (command === 'start') {
    lines.push('Usage: roundtable start [options]', '', 'Starts Roundtable and runs until SIGINT or SIGTERM.');
  } else {
    lines.push(
      'Roundtable: audio/video calls, group calls and rooms for IM products.',
      '',
      'Usage:',
      '  roundtable start [options]    start the server',
      '  roundtable migrate [options]  apply the database migrations, say which, and exit',
      '  roundtable --help             this help (also: roundtable start --help)',
      '  roundtable --version          print the version',
    );
  }
  lines.push(
    '',
    ...wrap(
      'With no settings at all, `roundtable start` runs everything in one process: web pages and the signaling server on ' +
        'http://localhost:8080 (ws://localhost:8080/ws), the Kurento Protocol on ws://127.0.0.1:8888/kurento, data in .roundtable/roundtable.db.',
      0,
    ),
    '',
    ...wrap(
      'Settings come from a config file (JSON or YAML, see docs/configuration.md), then environment variables, then flags: ' +
        'a flag wins over a variable, which wins over the file. Under each flag: its default, its environment variable and its key in the config file. ' +
        'A setting that the role does not use is ignored. Settings are checked before anything starts; a bad one exits with code 2.',
      0,
    ),
    '',
    ...entry(`--${CONFIG_FILE_SETTING.flag} ${CONFIG_FILE_SETTING.arg}`, 'config file to read: .json is read as JSON, anything else as YAML', `default none | env ${CONFIG_FILE_SETTING.env}`),
  );
  for (const [section, keys] of sections()) {
    lines.push('', SECTION_TITLES[section]);
    for (const key of keys) lines.push(...settingEntry(key));
  }
  if (command !== 'start') lines.push('', 'Exit codes: 0 after a clean shutdown (or migration), 1 when start-up (or a migration) fails, 2 for a bad command line or configuration.');
  return `${lines.join('\n')}\n`;
}

function migrateHelp(): string {
  return `${[
    'Usage: roundtable migrate [options]',
    '',
    ...wrap(
      'Applies the database migrations that the store has not had, each in its own transaction, prints which, and exits: ' +
        'PostgreSQL at signaling.dbUrl when it is set, else the SQLite file signaling.db. `roundtable start` applies them too when it opens the store; ' +
        'with several signaling nodes on one PostgreSQL database, run this once before starting the new version. ' +
        'It reads the same config file, variables and flags as `roundtable start` and uses these:',
      0,
    ),
    '',
    ...entry(`--${CONFIG_FILE_SETTING.flag} ${CONFIG_FILE_SETTING.arg}`, 'config file to read: .json is read as JSON, anything else as YAML', `default none | env ${CONFIG_FILE_SETTING.env}`),
    ...MIGRATE_SETTINGS.flatMap((key) => settingEntry(key)),
    '',
    ...wrap(
      'Exit codes: 0 when the schema is up to date (migrated now or before), 1 when the database cannot be reached or a migration fails (nothing of that migration is kept), 2 for a bad command line or configuration.',
      0,
    ),
  ].join('\n')}\n`;
}

function settingEntry(key: SettingKey): string[] {
  const spec: SettingSpec = SETTINGS[key];
  const env = [spec.env, ...(spec.envAliases ?? [])].join(' or ');
  return entry(`--${spec.flag} ${spec.arg}`, spec.help, `default ${spec.default} | env ${env} | key ${key}`);
}

function sections(): Map<SettingSection, SettingKey[]> {
  const bySection = new Map<SettingSection, SettingKey[]>();
  for (const key of SETTING_KEYS) {
    const spec: SettingSpec = SETTINGS[key];
    bySection.set(spec.section, [...(bySection.get(spec.section) ?? []), key]);
  }
  return bySection;
}

/** One option: the flag, its help beside it, and where else it is set on the next lines. */
function entry(flag: string, help: string, sources: string): string[] {
  const head = `  ${flag}`;
  const body = [...wrap(help, FLAG_COLUMN), ...wrap(sources, FLAG_COLUMN)];
  if (head.length < FLAG_COLUMN - 1) return [head.padEnd(FLAG_COLUMN) + (body[0] ?? '').trimStart(), ...body.slice(1)];
  return [head, ...body];
}

function wrap(text: string, indent: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > WIDTH) {
      out.push(' '.repeat(indent) + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) out.push(' '.repeat(indent) + line);
  return out;
}
