/** The bridge's config file, validated by zod: the single source of its shape and defaults (docs/bridge.md). */
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { HopSchema } from '../../shared/protocol/messages.ts';
import { CidrSchema, formatZodError, HostPatternSchema, ListenSchema, PortRangeSchema } from '../../shared/config/net-schemas.ts';
import { ConfigError } from '../config-error.ts';

/** A policy entry: a CIDR block or a host pattern (or neither: any target), optionally limited to ports. */
export const PolicyEntrySchema = z
  .object({
    cidr: CidrSchema.optional(),
    host: HostPatternSchema.optional(),
    ports: z.union([PortRangeSchema, z.array(PortRangeSchema).min(1)]).optional(),
  })
  .strict()
  .refine((e) => !(e.cidr && e.host), { message: 'give cidr or host, not both' })
  .transform((e) => ({ ...e, ports: e.ports === undefined ? undefined : Array.isArray(e.ports) ? e.ports : [e.ports] }));
export type PolicyEntry = z.output<typeof PolicyEntrySchema>;

/**
 * A hop of a configured route: a client-chain hop, or a SOCKS5 proxy that wants GSS-API (RFC 1961, Kerberos) with
 * the bridge's own credentials. Only the operator's routes can use the bridge's tickets; client chains cannot.
 */
export const RouteHopSchema = HopSchema.extend({
  /** `gssapi`: offer only method 0x01 and authenticate with Kerberos (docs/bridge.md, GSS-API hops). */
  auth: z.literal('gssapi').optional(),
  /** The proxy's service: `rcmd/host`, `rcmd@host`, or a bare `rcmd` (on the hop's host). Default `rcmd`, as curl and Dante. */
  service: z
    .string()
    .min(1)
    .max(255)
    .regex(/^[A-Za-z0-9._-]+(?:[/@][A-Za-z0-9._-]+)?$/, 'expected service, service/host or service@host (no realm: krb5.conf maps the host to its realm)')
    .optional(),
  /** The client principal (`alice@REALM`); default: the credential cache's or keytab's first. */
  principal: z.string().min(1).max(255).optional(),
  /** A client keytab the bridge gets its own tickets from (KRB5_CLIENT_KTNAME for this hop's calls). */
  keytab: z.string().min(1).optional(),
  /** A credential cache with tickets obtained elsewhere (KRB5CCNAME for this hop's calls), e.g. FILE:/run/wsocks/cc. */
  ccache: z.string().min(1).optional(),
  /**
   * The protection level proposed (RFC 1961 §4), and the least accepted from the proxy: `confidentiality` (default,
   * as curl proposes), `integrity`, or `clear` (no per-message protection: Dante's `gssapi.enctype: clear`).
   */
  protection: z.enum(['clear', 'integrity', 'confidentiality']).default('confidentiality'),
  /** Exchange the protection level in clear, as the NEC reference implementation does (curl --socks5-gssapi-nec). */
  nec: z.boolean().default(false),
})
  .strict()
  .superRefine((h, ctx) => {
    const gssOnly = ['service', 'principal', 'keytab', 'ccache'] as const;
    if (h.auth !== 'gssapi') {
      for (const key of gssOnly) if (h[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is for auth: "gssapi" hops` });
      return;
    }
    if (h.type !== 'socks5') ctx.addIssue({ code: 'custom', path: ['type'], message: 'GSS-API authentication needs a socks5 hop' });
    if (h.username !== undefined || h.password !== undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'a GSS-API hop takes no username or password' });
    if (h.keytab !== undefined && h.ccache !== undefined) ctx.addIssue({ code: 'custom', path: ['ccache'], message: 'give keytab or ccache, not both' });
  });
export type RouteHopConfig = z.output<typeof RouteHopSchema>;

const HopsSchema = z.array(RouteHopSchema).min(1).max(8);
/**
 * A named chain: its hops, or `{hops, names}`. `names: "bridge"` (default): the bridge resolves a target name and
 * judges every address before the last hop sees it; `"proxy"`: the last hop resolves names and is the policy
 * boundary (docs/security.md).
 */
const RouteSchema = z.preprocess(
  (r) => (Array.isArray(r) ? { hops: r } : r),
  z.object({ hops: HopsSchema, names: z.enum(['bridge', 'proxy']).default('bridge') }).strict(),
);

/** "127.0.0.1:5353", "[::1]:53" or a bare IP (port 53). */
const DnsServerSchema = z.string().regex(/^(?:\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?|[0-9.]+(?::[0-9]{1,5})?|[0-9a-fA-F:]+)$/, 'expected IP or IP:PORT (IPv6 in brackets)');

/** A key that verifies signed session tokens (JWT): its `kid` names it in the token's header, for rotation. */
const TokenKeySchema = z.discriminatedUnion('alg', [
  z
    .object({
      kid: z.string().min(1).max(100),
      alg: z.enum(['HS256', 'HS384', 'HS512']),
      /** The shared secret, as UTF-8 text; at least 32 characters. */
      secret: z.string().min(32).max(4096),
    })
    .strict(),
  z
    .object({
      kid: z.string().min(1).max(100),
      alg: z.literal('EdDSA'),
      /** An Ed25519 public key, PEM (SPKI, `-----BEGIN PUBLIC KEY-----`). */
      publicKey: z.string().refine(
        (pem) => {
          try {
            return createPublicKey(pem).asymmetricKeyType === 'ed25519';
          } catch {
            return false;
          }
        },
        { message: 'not an Ed25519 public key in PEM (SPKI) form' },
      ),
    })
    .strict(),
]);
export type TokenKey = z.output<typeof TokenKeySchema>;

/** Signed, scoped, expiring session tokens (docs/deploy.md): how they are verified. */
const SignedTokensSchema = z
  .object({
    keys: z
      .array(TokenKeySchema)
      .min(1)
      .refine((keys) => new Set(keys.map((k) => k.kid)).size === keys.length, { message: 'key ids (kid) must be unique' }),
    /** When given, a token's `iss` must equal it. */
    issuer: z.string().min(1).optional(),
    /** When given, a token's `aud` must contain it. */
    audience: z.string().min(1).optional(),
    /** Clock skew allowed when checking `exp` and `nbf`. */
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
  })
  .strict();
export type SignedTokensConfig = z.output<typeof SignedTokensSchema>;

/** A websockify token's target: where its WebSocket's one TCP connection goes, and through which route. */
const WebsockifyTargetSchema = z
  .object({
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535),
    /** A name in `routes`; none: direct (the policy decides). */
    route: z.string().min(1).max(100).optional(),
  })
  .strict();

/** A URL path the bridge serves besides `/` ("/websockify"). */
const CompatPathSchema = z.string().regex(/^\/[A-Za-z0-9._~\-/]*$/, 'expected a path starting with /').refine((p) => p !== '/', {
  message: '/ is the wsocks.v1 endpoint',
});

/**
 * websockify mode (docs/compat.md): one WebSocket = one TCP connection, the target chosen by `?token=` in the URL,
 * like websockify's token plugins. Each token is a secret (8 characters at least): it is the only credential asked.
 */
const WebsockifySchema = z
  .object({
    path: CompatPathSchema.default('/websockify'),
    targets: z.record(z.string().min(8).max(512), WebsockifyTargetSchema),
  })
  .strict();
export type WebsockifyConfig = z.output<typeof WebsockifySchema>;

/**
 * A Wisp endpoint, v1 and v2 (docs/compat.md): `path` ends with "/" (Wisp clients require it); with `tokens` or
 * `signedTokens` set, clients put the token as one more path segment (`/wisp/TOKEN/`), or (v2) as the password of
 * the password extension. Wisp has no field for a route: every stream of the endpoint takes `route` (none: direct).
 */
const WispEndpointSchema = z
  .object({
    path: CompatPathSchema.refine((p) => p.endsWith('/'), { message: 'a Wisp path ends with /' }),
    route: z.string().min(1).max(100).optional(),
    /** v2: the message of the day the MOTD extension carries (UTF-8). */
    motd: z.string().max(1000).optional(),
    /** v2: whether UDP streams are served (the UDP extension is offered). */
    udp: z.boolean().default(true),
    /** Also serve the legacy wsproxy mode: `PATH[TOKEN/]HOST:PORT` is one TCP connection (policy applies). */
    wsproxy: z.boolean().default(false),
  })
  .strict();
export type WispEndpointConfig = z.output<typeof WispEndpointSchema>;

export const BridgeConfigSchema = z
  .object({
    listen: ListenSchema.default({ host: '127.0.0.1', port: 8080 }),
    /** Tokens a client may present; none: no token is asked. */
    tokens: z.array(z.string().min(8).max(512)).default([]),
    /** Signed tokens (JWT) accepted besides `tokens`; with either, a token is required. */
    signedTokens: SignedTokensSchema.optional(),
    /**
     * Peers (HAProxy, nginx, a load balancer) that may say who the client is: with a PROXY protocol v1/v2 header, or
     * `Forwarded` / `X-Forwarded-For` (docs/deploy.md). Per-client limits and logs then use the client's address.
     */
    trustedProxies: z.array(CidrSchema).max(256).default([]),
    /** Allowed Origins; none: only same-origin browsers and clients without an Origin header. */
    origins: z.array(z.string().url()).optional(),
    policy: z
      .object({
        allow: z.array(PolicyEntrySchema).default([]),
        deny: z.array(PolicyEntrySchema).default([]),
      })
      .strict()
      .default({ allow: [], deny: [] }),
    /** Serve wss:// directly: PEM files of the certificate chain and its private key (re-read on reload). */
    tls: z.object({ cert: z.string().min(1), key: z.string().min(1) }).strict().optional(),
    /** Prometheus /metrics: on the bridge's port, or with `listen` only on that separate address. */
    metrics: z.object({ listen: ListenSchema.optional() }).strict().optional(),
    /** On SIGTERM/drain: how long open sessions may keep their streams before they are closed with 1001. */
    drainTimeoutMs: z.number().int().min(0).default(30_000),
    /** Whether clients may describe their own chains with `via`. */
    clientChains: z.boolean().default(false),
    /** Named chains; their credentials never leave the bridge. */
    routes: z.record(z.string().min(1).max(100), RouteSchema).default({}),
    /** Endpoints for clients that speak other relay protocols (docs/compat.md). */
    compat: z
      .object({
        websockify: WebsockifySchema.optional(),
        wisp: z
          .array(WispEndpointSchema)
          .max(16)
          .default([])
          .refine((w) => new Set(w.map((e) => e.path)).size === w.length, { message: 'Wisp paths must be unique' }),
      })
      .strict()
      .default({ wisp: [] }),
    /** The resolvers the bridge asks for names ("host:port", IPv6 in brackets); none: the system's (getaddrinfo). */
    dns: z.object({ servers: z.array(DnsServerSchema).min(1).max(8) }).strict().optional(),
    limits: z
      .object({
        streamsPerSession: z.number().int().positive().default(256),
        sessionsPerClient: z.number().int().positive().default(16),
        /** Sessions open at once on the whole bridge; one more is closed with 4503 ERR_BRIDGE_FULL. */
        maxSessions: z.number().int().positive().default(1024),
        /** Streams open at once across all sessions; one more `open` gets ERR_BRIDGE_FULL for that stream. */
        maxStreams: z.number().int().positive().default(16384),
        /**
         * Bytes the bridge queues for one session's client (WebSocket buffer plus queued frames) before it stops
         * reading from that session's targets and from its WebSocket; reading resumes below half of it.
         */
        maxBufferedBytes: z.number().int().min(16 * 1024).max(256 * 1024 * 1024).default(1024 * 1024),
        /** A session over maxBufferedBytes that flushes nothing for this long is closed with 4008 ERR_SESSION_OVERLOADED. */
        overloadTimeoutMs: z.number().int().positive().default(30_000),
        /** DNS lookups in flight at once (they outlive the streams that asked); one more open gets ERR_BRIDGE_FULL. */
        maxPendingLookups: z.number().int().positive().default(64),
        /** Largest WebSocket message, either direction. */
        maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
        /** Bytes the bridge will buffer for a stream's target (its credit window to the client); 1 MiB: see docs/performance.md. */
        window: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
        /**
         * The most a stream's upload window grows to while its target keeps up, and the budget a session's windows
         * share for growing (below `window`: no growth); see docs/bridge.md, worst-case memory.
         */
        maxWindow: z.number().int().min(1024).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
        /** Per hop and for the target: TCP connect plus SOCKS handshake. */
        handshakeTimeoutMs: z.number().int().positive().default(10_000),
        /** A stream with no traffic for this long is closed; 0 disables it. */
        idleTimeoutMs: z.number().int().min(0).default(600_000),
        /** WebSocket ping interval; a session that misses a pong for this long is dropped. */
        pingIntervalMs: z.number().int().positive().default(30_000),
        /** How long BIND waits for the peer after its first reply. */
        bindTimeoutMs: z.number().int().positive().default(120_000),
        /** Largest UDP payload a client may send. */
        maxDatagramBytes: z.number().int().positive().max(65507).default(65507),
      })
      .strict()
      .default({
        streamsPerSession: 256,
        sessionsPerClient: 16,
        maxSessions: 1024,
        maxStreams: 16384,
        maxBufferedBytes: 1024 * 1024,
        overloadTimeoutMs: 30_000,
        maxPendingLookups: 64,
        maxMessageBytes: 256 * 1024,
        window: 1024 * 1024,
        maxWindow: 8 * 1024 * 1024,
        handshakeTimeoutMs: 10_000,
        idleTimeoutMs: 600_000,
        pingIntervalMs: 30_000,
        bindTimeoutMs: 120_000,
        maxDatagramBytes: 65507,
      }),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const [i, w] of c.compat.wisp.entries()) {
      if (w.route !== undefined && !Object.hasOwn(c.routes, w.route)) {
        ctx.addIssue({ code: 'custom', path: ['compat', 'wisp', i, 'route'], message: `no route named ${JSON.stringify(w.route)} in routes` });
      }
    }
    for (const t of Object.values(c.compat.websockify?.targets ?? {})) {
      if (t.route !== undefined && !Object.hasOwn(c.routes, t.route)) {
        // The token itself is a secret: the message names the route only.
        ctx.addIssue({ code: 'custom', path: ['compat', 'websockify', 'targets'], message: `a target names route ${JSON.stringify(t.route)}, which is not in routes` });
      }
    }
  });

export type BridgeConfigInput = z.input<typeof BridgeConfigSchema>;
export type BridgeConfig = z.output<typeof BridgeConfigSchema>;

export function parseBridgeConfig(input: unknown, source = 'config'): BridgeConfig {
  const parsed = BridgeConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(`${source}: invalid bridge config:\n${formatZodError(parsed.error)}`);
  return parsed.data;
}

/** Reads a JSON config file; the object is returned as written, for `BridgeServer.start` (which validates it). */
export async function readBridgeConfigFile(path: string): Promise<Record<string, unknown>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}
