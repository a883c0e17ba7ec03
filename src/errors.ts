/**
 * The one error catalog. Codes are stable: the same string appears in logs (`error.code`),
 * HTTP bodies (`{"error":{"code":...}}`), gRPC status details and CLI messages. Protocol codes
 * also have the numeric value sent in ERROR frames (docs/protocol.md).
 */
export const ERROR_CATALOG = {
  SENTINEL_E_BAD_MAGIC: { wire: 1, message: 'frame magic is not 0x4E53; framing lost' },
  SENTINEL_E_UNSUPPORTED_VERSION: { wire: 2, message: 'protocol version not supported' },
  SENTINEL_E_FRAME_TOO_LARGE: { wire: 3, message: 'frame payload exceeds 1 MiB' },
  SENTINEL_E_UNKNOWN_FRAME_TYPE: { wire: 4, message: 'unknown frame type' },
  SENTINEL_E_MALFORMED_FRAME: { wire: 5, message: 'frame payload is inconsistent with its type' },
  SENTINEL_E_MALFORMED_EVENT: { wire: 6, message: 'event record is invalid' },
  SENTINEL_E_HELLO_REQUIRED: { wire: 7, message: 'the first frame must be HELLO' },
  SENTINEL_E_ROLE_NOT_GRANTED: { wire: 8, message: 'the connection lacks the role for this frame' },
  SENTINEL_E_QUEUE_FULL: { wire: 9, message: 'a bounded queue is full' },
  SENTINEL_E_PEER_REJECTED: { wire: 10, message: 'peer credentials are not allowed' },
  SENTINEL_E_SHUTTING_DOWN: { wire: 11, message: 'the daemon is shutting down' },
  SENTINEL_E_TRACE_PARSE: { wire: 0, message: 'trace line is invalid' },
  SENTINEL_E_CONFIG: { wire: 0, message: 'configuration is invalid' },
  SENTINEL_E_NATIVE_LOAD: { wire: 0, message: 'native addon could not be loaded' },
  SENTINEL_E_INVALID_ARGUMENT: { wire: 0, message: 'invalid argument' },
  SENTINEL_E_DB: { wire: 0, message: 'database error' },
  SENTINEL_E_NOT_RUNNING: { wire: 0, message: 'the daemon is not running' },
  SENTINEL_E_UNAUTHORIZED: { wire: 0, message: 'missing or wrong token' },
  SENTINEL_E_NOT_FOUND: { wire: 0, message: 'not found' },
  SENTINEL_E_ALERT_DROPPED: { wire: 0, message: 'alerts were dropped' },
  SENTINEL_E_IO: { wire: 0, message: 'I/O error' },
  SENTINEL_E_INPUT_PERMISSION: { wire: 0, message: 'this process may not read input devices' },
  SENTINEL_E_INPUT_DEVICE: { wire: 0, message: 'an input device could not be opened or failed' },
  SENTINEL_E_BIO_KEY: { wire: 0, message: 'the host-local biometrics key file is missing, unsafe or invalid' },
  SENTINEL_E_BIO_PROFILE: { wire: 0, message: 'a biometric profile is malformed, truncated or of an unknown version' },
  SENTINEL_E_BIO_ENROLL: { wire: 0, message: 'enrollment failed (not enough input)' },
  SENTINEL_E_LOCK_FAILED: { wire: 0, message: 'the session lock command failed' },
  SENTINEL_E_MODEL_RUNTIME: { wire: 0, message: 'a shipped model could not be loaded or run by its runtime (ONNX Runtime)' },
  SENTINEL_E_APP_UNAVAILABLE: { wire: 0, message: 'app modality off: no reachable X display or no EWMH window manager' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export class SentinelError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? ERROR_CATALOG[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SentinelError';
    this.code = code;
    this.details = options?.details;
  }
  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/** The catalog code of a SentinelError, or `fallback` for any other error (what logs and reasons name). */
export function errorCode(err: unknown, fallback: ErrorCode): ErrorCode {
  return err instanceof SentinelError ? err.code : fallback;
}

/**
 * A SentinelError for what the addon threw: its `code` when that is `passThrough` (the addon sets
 * it on its own errors, e.g. SENTINEL_E_BIO_PROFILE for a malformed profile), else `fallback`
 * (argument checks throw plain TypeError/RangeError). A SentinelError is returned as it is.
 */
export function fromNative(err: unknown, passThrough: ErrorCode, fallback: ErrorCode): SentinelError {
  if (err instanceof SentinelError) return err;
  const code = (err as { code?: string }).code === passThrough ? passThrough : fallback;
  return new SentinelError(code, (err as Error).message, { cause: err });
}

const byWire = new Map<number, ErrorCode>(
  (Object.entries(ERROR_CATALOG) as [ErrorCode, { wire: number }][]).filter(([, v]) => v.wire > 0).map(([k, v]) => [v.wire, k]),
);

/** Catalog name of a numeric wire code, or undefined when the code is unknown. */
export function codeFromWire(wire: number): ErrorCode | undefined {
  return byWire.get(wire);
}

export function wireCode(code: ErrorCode): number {
  return ERROR_CATALOG[code].wire;
}
