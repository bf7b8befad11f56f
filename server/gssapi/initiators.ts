/**
 * The bridge's GSS-API credentials: one helper process (gss-helper.ts) per distinct credential set of the routes'
 * GSS-API hops, started at the first connection that needs it and kept until the bridge closes.
 */
import { RestartingHelper, type GssHelper } from './gss-helper.ts';

export interface InitiatorConfig {
  /** Client principal (`alice@REALM`); default: the cache's, or the client keytab's first. */
  principal?: string | undefined;
  /** A client keytab the helper gets its own tickets from (KRB5_CLIENT_KTNAME), kept in a memory cache. */
  keytab?: string | undefined;
  /** A credential cache with tickets obtained elsewhere (KRB5CCNAME), e.g. FILE:/run/wsocks/krb5cc. */
  ccache?: string | undefined;
}

/**
 * The GSS service name for a hop: `rcmd/host` and `rcmd@host` name a service on a host; a bare `rcmd` (and no name
 * at all: curl and Dante default to rcmd) is that service on the hop's own host name.
 */
export function gssServiceName(service: string | undefined, hopHost: string): string {
  const s = service ?? 'rcmd';
  if (s.includes('@')) return s;
  const slash = s.indexOf('/');
  if (slash > 0) return `${s.slice(0, slash)}@${s.slice(slash + 1)}`;
  return `${s}@${hopHost}`;
}

/** The helper's environment for these credentials. */
function initiatorEnv(c: InitiatorConfig): Record<string, string> {
  const env: Record<string, string> = {};
  if (c.keytab !== undefined) {
    env.KRB5_CLIENT_KTNAME = c.keytab.startsWith('FILE:') ? c.keytab : `FILE:${c.keytab}`;
    // Tickets obtained from the keytab stay in the helper's memory, not in anybody's cache.
    env.KRB5CCNAME = c.ccache ?? 'MEMORY:wsocks';
  } else if (c.ccache !== undefined) {
    env.KRB5CCNAME = c.ccache;
  }
  return env;
}

export class Initiators {
  private readonly helpers = new Map<string, RestartingHelper>();

  /**
   * The helper for these credentials, started on first use. A start that failed, or a helper that has exited since,
   * is replaced by a new one the next time.
   */
  helper(c: InitiatorConfig): Promise<GssHelper> {
    const key = JSON.stringify([c.principal ?? '', c.keytab ?? '', c.ccache ?? '']);
    let h = this.helpers.get(key);
    if (!h) {
      h = RestartingHelper.lazy({ role: 'initiate', principal: c.principal, env: initiatorEnv(c) });
      this.helpers.set(key, h);
    }
    return h.get();
  }

  async close(): Promise<void> {
    const all = [...this.helpers.values()];
    this.helpers.clear();
    await Promise.all(all.map((h) => h.close()));
  }
}
