/** Why reaching a target failed, with the SOCKS5 reply code a server answers with. */
import { Socks5ReplyCode } from '../../shared/socks/constants.ts';

export const TargetErrorCode = {
  REFUSED: 'ERR_TARGET_REFUSED',
  HOST_UNREACHABLE: 'ERR_TARGET_HOST_UNREACHABLE',
  NETWORK_UNREACHABLE: 'ERR_TARGET_NETWORK_UNREACHABLE',
  TIMEOUT: 'ERR_TARGET_TIMEOUT',
  NOT_FOUND: 'ERR_TARGET_NOT_FOUND',
  DENIED: 'ERR_TARGET_DENIED',
  /** The requested host is not a host (shared/net/canonical-target.ts): NUL, whitespace, a zone id, ... */
  BAD_TARGET: 'ERR_TARGET_BAD_HOST',
  FAILED: 'ERR_TARGET_FAILED',
} as const;
export type TargetErrorCodeValue = (typeof TargetErrorCode)[keyof typeof TargetErrorCode];

const REPLY: Record<TargetErrorCodeValue, number> = {
  ERR_TARGET_REFUSED: Socks5ReplyCode.CONNECTION_REFUSED,
  ERR_TARGET_HOST_UNREACHABLE: Socks5ReplyCode.HOST_UNREACHABLE,
  ERR_TARGET_NETWORK_UNREACHABLE: Socks5ReplyCode.NETWORK_UNREACHABLE,
  // curl and Dante read 0x06 "TTL expired" as a timeout.
  ERR_TARGET_TIMEOUT: Socks5ReplyCode.TTL_EXPIRED,
  ERR_TARGET_NOT_FOUND: Socks5ReplyCode.HOST_UNREACHABLE,
  ERR_TARGET_DENIED: Socks5ReplyCode.NOT_ALLOWED,
  ERR_TARGET_BAD_HOST: Socks5ReplyCode.NOT_ALLOWED,
  ERR_TARGET_FAILED: Socks5ReplyCode.GENERAL_FAILURE,
};

export class TargetError extends Error {
  override readonly name = 'TargetError';
  readonly replyCode: number;
  constructor(
    readonly code: TargetErrorCodeValue,
    message: string,
    /** The OS error code behind it (ECONNREFUSED, ENOTFOUND, ...), if any. */
    readonly syscallCode?: string,
  ) {
    super(message);
    this.replyCode = REPLY[code];
  }
}

/** Maps an OS or resolver error to a TargetError. */
export function targetErrorFrom(err: unknown, what: string): TargetError {
  if (err instanceof TargetError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const message = `${what}: ${(err as Error | undefined)?.message ?? String(err)}`;
  switch (code) {
    case 'ECONNREFUSED':
      return new TargetError(TargetErrorCode.REFUSED, message, code);
    case 'EHOSTUNREACH':
    case 'EHOSTDOWN':
      return new TargetError(TargetErrorCode.HOST_UNREACHABLE, message, code);
    case 'ENETUNREACH':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return new TargetError(TargetErrorCode.NETWORK_UNREACHABLE, message, code);
    case 'ETIMEDOUT':
      return new TargetError(TargetErrorCode.TIMEOUT, message, code);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_FAIL':
      return new TargetError(TargetErrorCode.NOT_FOUND, message, code);
    case 'EACCES':
    case 'EPERM':
      return new TargetError(TargetErrorCode.DENIED, message, code);
    default:
      return new TargetError(TargetErrorCode.FAILED, message, code || undefined);
  }
}
