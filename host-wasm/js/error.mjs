/**
 * The error thrown by crosscast: an `Error` with a stable `code`
 * (`DECODE_TRUNCATED`, `DECODE_SHAPE`, `INVALID_ARGUMENT`, `VALUE_UNSUPPORTED`,
 * `ACK_UNSUPPORTED`, ...). Codes are API; messages are for people.
 */
export class CrosscastError extends Error {
  /**
   * @param {string} message
   * @param {string} code
   */
  constructor(message, code) {
    super(message);
    this.name = "CrosscastError";
    this.code = code;
  }
}
