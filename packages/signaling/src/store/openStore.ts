import type { Logger } from '../logger.js';
import { PostgresStore } from './PostgresStore.js';
import { SqliteStore } from './SqliteStore.js';
import type { Store } from './Store.js';

export const DEFAULT_DB_PATH = '.roundtable/roundtable.db';

export interface StoreOptions {
  /** SQLite file, used when `dbUrl` is not set. Default '.roundtable/roundtable.db' (its folder is created). */
  dbPath?: string;
  /** PostgreSQL database (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`): when set, the store is PostgreSQL. Default: none. */
  dbUrl?: string;
  /** Default: logs nothing. */
  logger?: Logger;
}

/** The store the options pick, open and migrated: PostgreSQL when `dbUrl` is set, else the SQLite file. */
export async function openStore(options: StoreOptions): Promise<Store> {
  if (options.dbUrl !== undefined) return PostgresStore.open({ url: options.dbUrl, ...(options.logger ? { logger: options.logger } : {}) });
  return new SqliteStore({ path: options.dbPath ?? DEFAULT_DB_PATH });
}
