export * from './ids.js';
export * from './errors.js';
export * from './calls.js';
export * from './messages.js';
