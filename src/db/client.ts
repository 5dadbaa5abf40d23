import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema.js';

function newDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

export type Db = ReturnType<typeof newDb>;

/**
 * One drizzle instance per D1 binding, made on first use: building one walks the whole schema
 * (`extractTablesRelationalConfig`), about a twentieth of central's CPU for an ingest batch when
 * every request built its own (issue 21). A new binding object (another environment, a test's
 * isolated storage) gets its own.
 */
const instances = new WeakMap<D1Database, Db>();

export function createDb(d1: D1Database): Db {
  let db = instances.get(d1);
  if (!db) {
    db = newDb(d1);
    instances.set(d1, db);
  }
  return db;
}

export { schema };
