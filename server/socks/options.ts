/** Options of the SOCKS server, validated by zod: the single source of their shape and defaults. */
import { z } from 'zod';
import { RuleSchema } from './rules.ts';

export const UserSchema = z.object({
  username: z.string().min(1).max(255),
  password: z.string().max(255),
});

export const IdentdOptionsSchema = z
  .object({
    /** Whole check: connect, query, reply. */
    timeoutMs: z.number().int().positive().default(2_000),
    /** Port of the identd on the client's host; 113 (RFC 1413) unless a test or a special setup says otherwise. */
    port: z.number().int().min(1).max(65535).default(113),
  })
  .strict();

export const SocksServerOptionsSchema = z
  .object({
    /** Address to listen on. Loopback by default: a SOCKS server open to a network is an open proxy. */
    host: z.string().default('127.0.0.1'),
    /** Port to listen on; 0 picks a free one (see `SocksServer.address`). */
    port: z.number().int().min(0).max(65535).default(1080),
    /**
     * RFC 1929 accounts. When any is given (or `gssapi`), SOCKS5 clients must authenticate and SOCKS4 (no password)
     * is refused.
     */
    users: z.array(UserSchema).default([]),
    /**
     * GSS-API (RFC 1961, Kerberos): SOCKS5 clients authenticate with a ticket for `service` whose key is in
     * `keytab`; the client's principal (`alice@REALM`) is the user that rules see. `protection`: the levels the
     * server grants (it answers a proposal it offers with that level, any other with the strongest it offers);
     * default clear only, since curl proposes confidentiality but never encapsulates its data.
     */
    gssapi: z
      .object({
        keytab: z.string().min(1),
        service: z.string().min(1).max(255).regex(/^[A-Za-z0-9._-]+(?:[/@][A-Za-z0-9._-]+)?$/, 'expected service, service/host or service@host'),
        protection: z.array(z.enum(['clear', 'integrity', 'confidentiality'])).min(1).default(['clear']),
      })
      .strict()
      .optional(),
    /** Access rules, first match wins, default deny. Absent: everything is allowed. */
    rules: z.array(RuleSchema).optional(),
    /** Accept SOCKS4 and SOCKS4a. */
    socks4: z.boolean().default(true),
    /**
     * Check each SOCKS4/4a request's USERID with the identd (RFC 1413) on the client's host: 0x5C when no usable
     * answer comes within `timeoutMs`, 0x5D when it names another user or answers ERROR. Absent: no check.
     */
    identd: IdentdOptionsSchema.optional(),
    /** Whole handshake, from accept to request, must finish within this. */
    handshakeTimeoutMs: z.number().int().positive().default(10_000),
    /** Resolving and connecting to a target (CONNECT). Reply 0x06 when it runs out. */
    connectTimeoutMs: z.number().int().positive().default(10_000),
    /** How long a BIND waits for the incoming connection. */
    bindTimeoutMs: z.number().int().positive().default(60_000),
    /** Relayed connections and UDP associations with no traffic for this long are closed; 0 disables it. */
    idleTimeoutMs: z.number().int().min(0).default(300_000),
    /** Client connections at once; more are closed on accept. */
    maxConnections: z.number().int().positive().default(1024),
    /** DNS lookups in flight at once (a lookup outlives a client that gave up); one more fails the request (0x01). */
    maxPendingLookups: z.number().int().positive().default(64),
    /** Largest UDP payload relayed (after the RFC 1928 header); larger datagrams are dropped. */
    maxDatagramBytes: z.number().int().positive().max(65507).default(65507),
  })
  .strict();

export type SocksServerOptionsInput = z.input<typeof SocksServerOptionsSchema>;
export type SocksServerOptions = z.output<typeof SocksServerOptionsSchema>;
