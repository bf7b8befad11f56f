/**
 * The RFC 1961 subnegotiation of a GSS-API hop, run by the bridge between the proxy's method selection (0x01) and
 * the SOCKS5 request: context tokens, then the protection level. Every message goes to the transcript. With
 * integrity or confidentiality the hop's connection becomes a GssProtectedStream from here on.
 */
import type { Socket } from 'node:net';
import { GssClientHandshake, GssProtection, type GssStep } from '../../shared/socks/gssapi.ts';
import { WsocksError, WsocksErrorCode, type WsocksErrorCodeValue } from '../../shared/protocol/errors.ts';
import type { TranscriptEntry } from '../../shared/protocol/messages.ts';
import { TargetError, TargetErrorCode } from '../net/target-error.ts';
import { gssServiceName, type Initiators } from '../gssapi/initiators.ts';
import type { GssInitiatorOps } from '../../shared/socks/gssapi.ts';
import { GssProtectedStream } from '../gssapi/protected-stream.ts';
import { driveGss } from '../gssapi/drive.ts';
import { redactPaths } from '../gssapi/redact-paths.ts';
import type { RouteHop } from './dial-route.ts';

const LEVEL = { clear: GssProtection.CLEAR, integrity: GssProtection.INTEGRITY, confidentiality: GssProtection.CONFIDENTIALITY } as const;

export interface GssHopRun {
  socket: Socket;
  /** Bytes the proxy sent after its method selection. */
  early: Uint8Array;
  hop: number;
  config: RouteHop;
  /** UDP ASSOCIATE: datagrams are not encapsulated here, so only clear is accepted. */
  udp: boolean;
  /** The bridge's credential helpers; a private set (closed after use) when the caller has none. */
  initiators: Initiators | undefined;
  signal: AbortSignal;
  onEntry: (e: Omit<TranscriptEntry, 'at'> & { at: number }) => void;
}

export interface GssHopDone {
  channel: Socket;
  protection: number;
  /** Bytes after the subnegotiation (already unwrapped ones are in the channel). */
  rest: Uint8Array;
}

const CODES: Record<string, WsocksErrorCodeValue> = {
  ERR_GSSAPI_FAILED: WsocksErrorCode.GSSAPI_FAILED,
  ERR_GSSAPI_REJECTED: WsocksErrorCode.GSSAPI_REJECTED,
  ERR_GSSAPI_PROTECTION: WsocksErrorCode.GSSAPI_PROTECTION,
  ERR_GSSAPI_UNAVAILABLE: WsocksErrorCode.GSSAPI_UNAVAILABLE,
};

/**
 * The stream's error: GSS-API's words with file paths and credential-store names replaced (they go to the browser);
 * the words as they were are the error's `cause`, which the bridge's log shows.
 */
function hopError(hop: number, err: { code?: string; message: string }): WsocksError {
  const code = (err.code !== undefined ? CODES[err.code] : undefined) ?? WsocksErrorCode.HOP_FAILED;
  const message = redactPaths(err.message);
  return new WsocksError(code, `hop ${hop} (socks5 proxy, GSS-API): ${message}`, { hop, ...(message !== err.message ? { cause: err } : {}) });
}

export async function runGssapi(r: GssHopRun): Promise<GssHopDone> {
  const c = r.config;
  const service = gssServiceName(c.service, c.host);
  let context;
  try {
    if (!r.initiators) throw Object.assign(new Error('this dial has no GSS-API credentials (no Initiators given)'), { code: 'ERR_GSSAPI_UNAVAILABLE' });
    const helper = await r.initiators.helper({ principal: c.principal, keytab: c.keytab, ccache: c.ccache });
    context = helper.context(service);
  } catch (err) {
    throw hopError(r.hop, err as Error & { code?: string });
  }
  const ops: GssInitiatorOps = { initStep: (input) => context.step(input), wrap: context.wrap, unwrap: context.unwrap };
  // The context lives as long as the hop's connection.
  r.socket.once('close', () => context.dispose());
  const proposed = r.udp ? GssProtection.CLEAR : LEVEL[c.protection ?? 'confidentiality'];
  // No downgrade: the proxy's choice must be at least what was proposed (clear accepts any level we can carry).
  const accept = r.udp ? [GssProtection.CLEAR] : [GssProtection.CLEAR, GssProtection.INTEGRITY, GssProtection.CONFIDENTIALITY].filter((l) => l >= proposed);
  const machine = new GssClientHandshake({ ops, protection: proposed, accept, nec: c.nec === true });
  const { socket, signal } = r;
  r.onEntry({ hop: r.hop, direction: 'local', kind: 'gssapi', hex: '', fields: [], at: 0, note: `GSS-API with service ${service}, proposing protection 0x0${proposed}${c.nec ? ' (NEC style, level in clear)' : ''}` });

  return new Promise<GssHopDone>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      drive.stop();
      signal.removeEventListener('abort', onAbort);
      socket.pause();
      fn();
    };
    const apply = (steps: GssStep[]) => {
      for (const step of steps) {
        if (settled) return;
        if (step.type === 'write' || step.type === 'read') {
          const m = step.message;
          r.onEntry({ hop: r.hop, direction: m.direction, kind: m.kind, hex: m.hex, fields: m.fields, at: 0 });
          if (step.type === 'write') socket.write(step.bytes);
        } else if (step.type === 'done') {
          const rest = machine.takeRest();
          finish(() => {
            if (step.protection === GssProtection.CLEAR) resolve({ channel: socket, protection: 0, rest });
            else resolve({ channel: new GssProtectedStream(socket, ops, step.protection === GssProtection.CONFIDENTIALITY, rest).asSocket(), protection: step.protection, rest: new Uint8Array(0) });
          });
        } else {
          finish(() => reject(hopError(r.hop, step.error)));
        }
      }
    };
    const onAbort = () => finish(() => reject(new TargetError(TargetErrorCode.TIMEOUT, 'no GSS-API answer within the handshake timeout')));
    signal.addEventListener('abort', onAbort, { once: true });
    const drive = driveGss(socket, machine, {
      first: () => machine.start(),
      early: r.early,
      apply,
      fail: (err) => finish(() => reject(hopError(r.hop, err as Error))),
    });
  });
}
