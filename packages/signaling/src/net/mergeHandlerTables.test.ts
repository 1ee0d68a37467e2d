import { describe, expect, it } from 'vitest';
import type { RequestType } from '@roundtable/protocol';
import type { HandlerTable } from './Handlers.js';
import { mergeHandlerTables } from './mergeHandlerTables.js';

const reserved = new Set<RequestType>(['login']);

describe('mergeHandlerTables', () => {
  it('merges the tables of several modules into one lookup', () => {
    const im: HandlerTable = { 'contacts.list': async () => ({ contacts: [] }) };
    const ice: HandlerTable = { 'ice.servers': async () => ({ iceServers: [] }) };
    const merged = mergeHandlerTables([im, ice], reserved);
    expect([...merged.keys()].sort()).toEqual(['contacts.list', 'ice.servers']);
  });

  it('throws when two tables handle the same type', () => {
    const a: HandlerTable = { 'contacts.list': async () => 1 };
    const b: HandlerTable = { 'contacts.list': async () => 2 };
    expect(() => mergeHandlerTables([a, b], reserved)).toThrow(/two handler tables handle 'contacts.list'/);
  });

  it('throws when a table handles a type the server keeps for itself', () => {
    const table: HandlerTable = { login: async () => 1 };
    expect(() => mergeHandlerTables([table], reserved)).toThrow(/handled by the server itself/);
  });
});
