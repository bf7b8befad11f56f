/**
 * GSS-API security contexts kept by a helper process over python-gssapi (gss-helper.py: why not npm `kerberos` is
 * said there). One helper holds one set of credentials: an acceptor's keytab (the SOCKS server) or an initiator's
 * credential cache or client keytab (a bridge hop). The credentials are named in the helper's environment only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CodedError } from '../../shared/errors/coded-error.ts';
import type { GssContextStep } from '../../shared/socks/gssapi.ts';

const HELPER = fileURLToPath(new URL('./gss-helper.py', import.meta.url));
/** Debian's interpreter, where python3-gssapi is installed (a python3 earlier on PATH may be another one). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export const GssapiErrorCode = {
  /** python3 or python3-gssapi is missing (Debian: apt-get install python3-gssapi). */
  UNAVAILABLE: 'ERR_GSSAPI_UNAVAILABLE',
  /** The credentials are unusable: no key for the service in the keytab, no ticket in the cache. */
  FAILED: 'ERR_GSSAPI_FAILED',
} as const;

export class GssapiError extends CodedError<string> {
  override readonly name = 'GssapiError';
}

interface Reply {
  id?: number;
  ok?: boolean;
  ready?: boolean;
  error?: string;
  token?: string;
  data?: string;
  complete?: boolean;
  principal?: string;
}

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
export const fromBase64 = (text: string | undefined): Uint8Array => (text ? new Uint8Array(Buffer.from(text, 'base64')) : new Uint8Array(0));

/** The operations on one security context. */
export interface GssContextOps {
  /** gss_init_sec_context / gss_accept_sec_context with the peer's token (empty for an initiator's first call). */
  step(input: Uint8Array): Promise<GssContextStep & { principal?: string | undefined }>;
  wrap(data: Uint8Array, confidential: boolean): Promise<Uint8Array>;
  unwrap(token: Uint8Array): Promise<Uint8Array>;
  /** Forgets the context (the connection is gone). */
  dispose(): void;
}

export type GssHelperConfig =
  | { role: 'accept'; service: string; env: Record<string, string> }
  | { role: 'initiate'; principal?: string | undefined; env: Record<string, string> };

export class GssHelper {
  private nextId = 1;
  private nextContext = 1;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {}

  /** False once the helper has exited (its contexts are gone; start another). */
  get alive(): boolean {
    return this.exited === undefined;
  }

  /** Starts a helper and waits until it holds its credentials; rejects with a GssapiError saying why not. */
  static async start(config: GssHelperConfig): Promise<GssHelper> {
    const args = config.role === 'accept' ? ['accept', config.service] : ['initiate', ...(config.principal ? [config.principal] : [])];
    const child = spawn(PYTHON, [HELPER, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...config.env } });
    const helper = new GssHelper(child);
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
    const lines = createInterface({ input: child.stdout! });
    const ready = new Promise<void>((resolve, reject) => {
      child.once('error', (err) => reject(new GssapiError(GssapiErrorCode.UNAVAILABLE, `cannot run ${PYTHON} for GSS-API: ${err.message}`)));
      child.once('exit', (code) => reject(new GssapiError(GssapiErrorCode.UNAVAILABLE, `the GSS-API helper exited (${code}): ${stderr.trim()}`)));
      lines.once('line', (line) => {
        const r = JSON.parse(line) as Reply;
        if (r.ready) return resolve();
        const code = r.error?.includes('python3-gssapi') ? GssapiErrorCode.UNAVAILABLE : GssapiErrorCode.FAILED;
        reject(new GssapiError(code, r.error ?? 'unknown failure'));
      });
    });
    lines.on('line', (line) => helper.onLine(line));
    child.once('exit', (code, signal) => helper.onExit(new Error(`the GSS-API helper exited (${code ?? signal}) ${stderr.trim()}`)));
    // A write after the helper died and before its exit is seen fails (EPIPE): unhandled, that would end this
    // process. Its calls fail as on exit, and it is made sure to be gone (its exit replaces it).
    child.stdin!.on('error', (err: NodeJS.ErrnoException) => {
      helper.onExit(new Error(`the GSS-API helper's input failed (${err.code ?? err.message})`));
      child.kill('SIGKILL');
    });
    try {
      await ready;
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
    return helper;
  }

  private onLine(line: string): void {
    let r: Reply;
    try {
      r = JSON.parse(line) as Reply;
    } catch {
      return;
    }
    const p = r.id === undefined ? undefined : this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id!);
    if (r.ok) p.resolve(r);
    else p.reject(new Error(r.error ?? 'GSS-API failure'));
  }

  private onExit(err: Error): void {
    this.exited = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private call(request: Record<string, unknown>): Promise<Reply> {
    if (this.exited) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.stdin!.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  /** A new context; `service` (host-based, `rcmd@host`) names the target of an initiator. */
  context(service?: string): GssContextOps {
    const ctx = this.nextContext++;
    return {
      step: async (input) => {
        const r = await this.call({ op: 'step', ctx, service, token: toBase64(input) });
        return { token: fromBase64(r.token), complete: r.complete === true, principal: r.principal };
      },
      wrap: async (data, confidential) => fromBase64((await this.call({ op: 'wrap', ctx, data: toBase64(data), conf: confidential })).token),
      unwrap: async (token) => fromBase64((await this.call({ op: 'unwrap', ctx, token: toBase64(token) })).data),
      dispose: () => {
        if (!this.exited) this.child.stdin!.write(`${JSON.stringify({ op: 'delete', ctx })}\n`);
      },
    };
  }

  /** Stops the helper (open contexts are gone with it). */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin!.end();
    await gone;
  }
}

/**
 * A helper that is started again when it has died (its contexts are lost with it: the connections using them fail,
 * new ones get a new helper). `start` fails fast, so a bad keytab stops a server at start.
 */
export class RestartingHelper {
  private current: Promise<GssHelper>;

  private constructor(
    private readonly config: GssHelperConfig,
    first: Promise<GssHelper>,
  ) {
    this.current = first;
  }

  /** Starts the first helper and waits for it (rejects with its GssapiError). */
  static async start(config: GssHelperConfig): Promise<RestartingHelper> {
    const first = GssHelper.start(config);
    await first;
    return new RestartingHelper(config, first);
  }

  /** Starts the first helper on first use instead. */
  static lazy(config: GssHelperConfig): RestartingHelper {
    const r = new RestartingHelper(config, GssHelper.start(config));
    r.current.catch(() => undefined);
    return r;
  }

  /** A live helper: the current one, or a new one if it died or failed to start. */
  async get(): Promise<GssHelper> {
    const seen = this.current;
    const h = await seen.catch(() => undefined);
    if (h?.alive) return h;
    if (this.current === seen) {
      this.current = GssHelper.start(this.config);
      this.current.catch(() => undefined);
    }
    return this.current;
  }

  async close(): Promise<void> {
    const h = await this.current.catch(() => undefined);
    await h?.close();
  }
}
