/** Why a store operation failed, in terms the services can map onto wire errors. */
export type StoreErrorCode =
  /** A unique key is taken (username, the direct conversation of a pair, an id). */
  | 'conflict'
  /** A referenced row does not exist (conversation, user). */
  | 'notFound'
  /** The store was closed. */
  | 'closed';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
