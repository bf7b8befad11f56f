/** The throw-away Kerberos realm of the GSS-API tests: the demo's (server/demo/krb5-realm.ts), one module for both. */
export { REALM, startRealm, type Realm } from '../../server/demo/krb5-realm.ts';
