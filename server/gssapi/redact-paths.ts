/**
 * GSS-API's and Kerberos' own words name files: "Credentials cache file '/tmp/krb5cc_0' not found", "Key table file
 * 'FILE:/etc/wsocks/bridge.keytab' not found", and a failing helper's Python traceback. The bridge logs those words
 * whole and sends the browser the same text with every credential location replaced by `[path]`: a web page learns
 * why the hop failed, not where the bridge keeps its keys.
 */

/** Kerberos credential-store names (`FILE:/x`, `DIR:/x`, `KEYRING:persistent:0`, `KCM:0`, `MEMORY:x`...) and absolute paths. */
const LOCATION = /\b(?:FILE|WRFILE|DIR|KEYRING|KCM|MEMORY|API|MSLSA):[^\s'"`,;)\]]*|(?<![\w.:/-])\/[^\s'"`,;)\]]+/g;

/** `text` with every file path and credential-store name replaced by `[path]`. */
export function redactPaths(text: string): string {
  return text.replace(LOCATION, '[path]');
}
