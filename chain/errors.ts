/**
 * The base of Hallmark's typed errors: a stable machine-readable `code` (RPC, metrics and tests
 * switch on it, never on the message) and a message that tells a person what was wrong.
 */
export class CodedError<C extends string = string> extends Error {
  readonly code: C;

  constructor(code: C, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}
