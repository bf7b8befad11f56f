/**
 * The demo's GSS-API hop, when this machine can make a Kerberos realm (Debian krb5-kdc, krb5-admin-server and
 * python3-gssapi): a throw-away realm on loopback, a SOCKS server of ours that wants Kerberos (every protection
 * level), and the keytab the bridge's route authenticates with. Anything missing: no GSS-API hop, and the reason.
 */
import { SocksServer } from '../socks/server.ts';
import { canStartRealm, startRealm } from './krb5-realm.ts';

export interface KerberosHop {
  server: SocksServer;
  /** The bridge's client keytab (principal `wsocks-demo@WSOCKS.TEST`). */
  keytab: string;
  close(): Promise<void>;
}

export async function startKerberosHop(): Promise<KerberosHop> {
  if (!canStartRealm()) throw new Error('krb5-kdc and krb5-admin-server are not installed');
  const realm = await startRealm();
  const savedConfig = process.env.KRB5_CONFIG;
  try {
    const keytab = realm.addPrincipal('wsocks-demo');
    const serviceKeytab = realm.addPrincipal('rcmd/localhost');
    // The bridge's and the server's GSS-API helpers find the realm through this (they inherit it).
    process.env.KRB5_CONFIG = realm.env.KRB5_CONFIG;
    const server = await SocksServer.start({ port: 0, gssapi: { keytab: serviceKeytab, service: 'rcmd', protection: ['clear', 'integrity', 'confidentiality'] } });
    return {
      server,
      keytab,
      close: async () => {
        await server.close();
        await realm.stop();
        restore(savedConfig);
      },
    };
  } catch (err) {
    await realm.stop();
    restore(savedConfig);
    throw err;
  }
}

function restore(value: string | undefined): void {
  if (value === undefined) delete process.env.KRB5_CONFIG;
  else process.env.KRB5_CONFIG = value;
}
