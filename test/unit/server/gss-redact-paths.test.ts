import { describe, expect, it } from 'vitest';
import { redactPaths } from '../../../server/gssapi/redact-paths.ts';

describe('redactPaths (GSS-API words sent to the browser)', () => {
  it.each([
    ["No Kerberos credentials available (default cache: FILE:/tmp/wsocks-krb5-x/empty.cc)", 'No Kerberos credentials available (default cache: [path])'],
    ["Credentials cache file '/tmp/krb5cc_0' not found", "Credentials cache file '[path]' not found"],
    ["Key table file 'FILE:/etc/wsocks/bridge.keytab' not found", "Key table file '[path]' not found"],
    ['cache KEYRING:persistent:0:krb_ccache_x is empty', 'cache [path] is empty'],
    ['DIR:/run/user/0/krb5cc, MEMORY:abc; KCM:0', '[path], [path]; [path]'],
    ['File "/usr/lib/python3/dist-packages/gssapi/x.py", line 3', 'File "[path]", line 3'],
  ])('%s', (input, output) => {
    expect(redactPaths(input)).toBe(output);
  });

  it('leaves words without paths alone: principals, services, dates, ratios, URLs\' hosts', () => {
    const text = 'Server rcmd/localhost@WSOCKS.TEST not found in Kerberos database; ticket expired 12:40; 1/2 done; and/or';
    expect(redactPaths(text)).toBe(text);
  });
});
