/**
 * Error classes of the server. Each has a stable code so that callers (and the wire)
 * can tell the cases apart without parsing messages.
 */
export type ServerErrorCode = 'INVALID_CONFIG' | 'INVALID_MESSAGE' | 'INVALID_STATE' | 'MEDIA_UNREACHABLE' | 'REDIS_UNREACHABLE' | 'INTERNAL_ERROR';

export class ServerError extends Error {
  constructor(
    readonly code: ServerErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** One bad or missing configuration value. */
export interface ConfigProblem {
  /** The setting's key in a config file, e.g. 'media.portRange'. */
  setting: string;
  /**
   * Where the value came from, as the operator wrote it: an environment variable
   * ('ROUNDTABLE_PORT'), a flag ('--port'), a key in a file ('port in roundtable.yaml'),
   * or the setting's key when it is set nowhere.
   */
  where: string;
  /** What is wrong, and what would be right. */
  reason: string;
}

/**
 * The configuration cannot be used; every problem found is listed, one per line of the
 * message, each starting with where the value came from.
 */
export class ConfigError extends ServerError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem | readonly ConfigProblem[]) {
    const list = 'setting' in problems ? [problems] : [...problems];
    if (list.length === 0) throw new TypeError('a ConfigError needs at least one problem');
    super('INVALID_CONFIG', list.map((p) => `${p.where}: ${p.reason}`).join('\n'));
    this.name = 'ConfigError';
    this.problems = list;
  }

  /** `where` of the first problem. */
  get where(): string {
    return this.problems[0]!.where;
  }

  /** `setting` of the first problem. */
  get setting(): string {
    return this.problems[0]!.setting;
  }
}

/** An inbound message could not be parsed or validated. */
export class MessageError extends ServerError {
  constructor(message: string) {
    super('INVALID_MESSAGE', message);
    this.name = 'MessageError';
  }
}
