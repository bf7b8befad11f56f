/**
 * Session tokens: the static ones of `tokens`, and signed, expiring JWTs (`signedTokens`, verified with jose) whose
 * `wsocks` claim narrows what the session may do. A claim only ever narrows the bridge's own policy: every open is
 * checked by the token's scope AND by the bridge's policy, limits and routes. Tokens are never logged.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { z } from 'zod';
import { formatZodError } from '../../shared/config/net-schemas.ts';
import { canonicalTarget } from '../../shared/net/canonical-target.ts';
import { cidrContains } from '../../shared/net/cidr.ts';
import { hostPatternMatches } from '../../shared/net/host-pattern.ts';
import { inAnyPortRange } from '../../shared/net/ports.ts';
import type { OpenMessage } from '../../shared/protocol/messages.ts';
import { PolicyEntrySchema, type PolicyEntry, type SignedTokensConfig } from './config.ts';
import { tokenAccepted } from './upgrade-checks.ts';

/** The `wsocks` claim of a signed token. Every field is optional; an absent field narrows nothing. */
export const TokenScopeSchema = z
  .object({
    /** Named routes the session may use; absent: all of the bridge's routes. */
    routes: z.array(z.string().min(1).max(100)).max(100).optional(),
    /** Whether opens without route or via (the bridge dials the target itself) are allowed. */
    direct: z.boolean().optional(),
    /** Whether `via` (client-described chains) is allowed; the bridge's `clientChains` must allow it too. */
    via: z.boolean().optional(),
    /** Targets the session may open, as policy entries: host patterns match names, cidr entries IP literals. */
    targets: z.array(PolicyEntrySchema).max(100).optional(),
    /** Streams open at once; the smaller of this and `limits.streamsPerSession` applies. */
    maxStreams: z.number().int().positive().max(1_000_000).optional(),
    /** Stream payload bytes, both directions together, over the whole session. */
    maxBytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();
export type TokenScope = z.output<typeof TokenScopeSchema>;

/** What a verified signed token grants a session. A static token grants the bridge's whole policy (no grant). */
export interface SessionGrant {
  /** When the session ends with 4401 (ms since the epoch). */
  expiresAt: number;
  scope: TokenScope;
  /** The token's `sub`, for logs. */
  subject: string | undefined;
}

export type TokenCheck = { ok: true; grant: SessionGrant | undefined } | { ok: false; message: string };

/** Checks presented tokens against the config: static ones in constant time, signed ones with their key. */
export class TokenVerifier {
  private readonly keys = new Map<string, { alg: string; key: KeyObject }>();

  constructor(
    private readonly staticTokens: readonly string[],
    private readonly signed: SignedTokensConfig | undefined,
  ) {
    for (const k of signed?.keys ?? []) {
      const key = k.alg === 'EdDSA' ? createPublicKey(k.publicKey) : createSecretKey(Buffer.from(k.secret, 'utf8'));
      this.keys.set(k.kid, { alg: k.alg, key });
    }
  }

  /** Whether a session needs a token at all. */
  get required(): boolean {
    return this.staticTokens.length > 0 || this.signed !== undefined;
  }

  async check(presented: string | undefined): Promise<TokenCheck> {
    if (!this.required) return { ok: true, grant: undefined };
    if (presented === undefined) return { ok: false, message: 'missing or wrong token' };
    if (this.staticTokens.length > 0 && tokenAccepted(this.staticTokens, presented)) return { ok: true, grant: undefined };
    if (!this.signed || presented.split('.').length !== 3) return { ok: false, message: 'missing or wrong token' };
    return this.verifySigned(presented, this.signed);
  }

  private async verifySigned(jwt: string, signed: SignedTokensConfig): Promise<TokenCheck> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(jwt).kid;
    } catch {
      return { ok: false, message: 'signed token: malformed header' };
    }
    const key = kid !== undefined && this.keys.has(kid) ? this.keys.get(kid)! : undefined;
    if (!key) return { ok: false, message: 'signed token: unknown key id (kid)' };
    try {
      const { payload } = await jwtVerify(jwt, key.key, {
        // Pinned: the key's own algorithm only (no "none", no HMAC with a public key).
        algorithms: [key.alg],
        requiredClaims: ['exp'],
        clockTolerance: signed.clockToleranceSec,
        ...(signed.issuer !== undefined ? { issuer: signed.issuer } : {}),
        ...(signed.audience !== undefined ? { audience: signed.audience } : {}),
      });
      const scope = TokenScopeSchema.safeParse(payload.wsocks ?? {});
      if (!scope.success) return { ok: false, message: `signed token: bad wsocks claim: ${formatZodError(scope.error).replace(/\n/g, '; ')}` };
      return {
        ok: true,
        grant: { expiresAt: payload.exp! * 1000 + signed.clockToleranceSec * 1000, scope: scope.data, subject: typeof payload.sub === 'string' ? payload.sub : undefined },
      };
    } catch (err) {
      return { ok: false, message: `signed token: ${describeJoseError(err)}` };
    }
  }
}

/** jose's error, said without the token or its claims. */
function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} ${err.reason === 'check_failed' ? 'check failed' : err.reason}`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad signature';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed for this key';
  if (err instanceof joseErrors.JOSEError) return err.code;
  return 'invalid';
}

/**
 * Why the token's scope refuses this open, or undefined when it allows it. The bridge's own checks (routes,
 * clientChains, policy, limits) run as well; this can only refuse more.
 */
export function scopeDenial(scope: TokenScope, m: OpenMessage): string | undefined {
  if (m.route !== undefined) {
    if (scope.routes && !scope.routes.includes(m.route)) return `route ${JSON.stringify(m.route)} is not in the token's routes`;
  } else if (m.via !== undefined) {
    if (scope.via === false) return 'the token does not allow via';
  } else if (scope.direct === false) {
    return 'the token does not allow direct opens (without route or via)';
  }
  if (!scope.targets) return undefined;
  if (m.host === undefined || m.port === undefined) return 'the token names its targets: the open must name host and port';
  // The first hop of a client-described chain is dialed by the bridge: it must be one of the targets too.
  const first = m.via?.[0];
  if (first) {
    const denied = outsideTargets(scope.targets, first.host, first.port);
    if (denied) return `via hop 1: ${denied}`;
  }
  return outsideTargets(scope.targets, m.host, m.port);
}

/** Why host:port is not among a token's targets, or undefined when it is. */
function outsideTargets(targets: readonly PolicyEntry[], host: string, port: number): string | undefined {
  const t = canonicalTarget(host);
  if (!t.ok) return `target ${JSON.stringify(host.slice(0, 100))} is not a valid host`;
  const matches = (e: PolicyEntry) =>
    (e.ports === undefined || inAnyPortRange(e.ports, port)) &&
    (e.cidr
      ? t.target.kind !== 'domain' && cidrContains(e.cidr, t.target.bytes)
      : e.host
        ? t.target.kind === 'domain' && hostPatternMatches(e.host, t.target.host)
        : true);
  return targets.some(matches) ? undefined : `${t.target.host} port ${port} is not in the token's targets`;
}
