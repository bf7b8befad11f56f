/**
 * The base of the errors that carry nothing but a stable `code` and a message (IdentError, ProxyProtocolError,
 * GssapiError). Each subclass sets its own `name`; callers match on `code`, never on the message.
 */
export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
  ) {
    super(message);
  }
}
