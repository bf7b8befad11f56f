/** What a signed token's grant holds a session to over its life: its expiry (4401) and its byte quota (4402). */
import { WsocksErrorCode } from '../../shared/protocol/errors.ts';
import type { SessionGrant } from './tokens.ts';

type Closer = (code: typeof WsocksErrorCode.UNAUTHORIZED | typeof WsocksErrorCode.TOKEN_QUOTA, message: string) => void;

export class GrantGuard {
  private grant: SessionGrant | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Stream payload bytes, both directions together, counted so far. */
  private payloadBytes = 0;

  constructor(private readonly close: Closer) {}

  /** Applies a grant (none: no limits): the session is closed with 4401 once it expires. */
  set(grant: SessionGrant | undefined): void {
    this.grant = grant;
    clearTimeout(this.timer);
    if (grant) this.expireAt(grant.expiresAt);
  }

  private expireAt(at: number): void {
    const left = at - Date.now();
    if (left <= 0) return this.close(WsocksErrorCode.UNAUTHORIZED, 'the token expired');
    this.timer = setTimeout(() => this.expireAt(at), Math.min(left, 2 ** 31 - 1));
  }

  /** Counts payload bytes against the token's maxBytes; over it, the session is closed (4402) and false returned. */
  carry(bytes: number): boolean {
    const quota = this.grant?.scope.maxBytes;
    if (quota === undefined) return true;
    if (this.payloadBytes + bytes > quota) {
      this.close(WsocksErrorCode.TOKEN_QUOTA, `the token allows ${quota} payload bytes`);
      return false;
    }
    this.payloadBytes += bytes;
    return true;
  }

  dispose(): void {
    clearTimeout(this.timer);
  }
}
