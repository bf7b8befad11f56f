import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import type { BridgeEvent } from '../../server/bridge/events.ts';
import { WispCloseReason } from '../../shared/protocol/wisp-frame.ts';
import { startEcho } from '../helpers/net.ts';
import { echo, mustOpen } from '../helpers/wisp.ts';
import { parseMetrics } from '../helpers/metrics.ts';

/** The compat endpoints in the bridge's records and /metrics: each session and stream labelled with its protocol. */

describe('compat endpoints in metrics and records', () => {
  let bridge: BridgeServer;
  let target: Awaited<ReturnType<typeof startEcho>>;
  const events: BridgeEvent[] = [];

  beforeAll(async () => {
    target = await startEcho();
    bridge = await BridgeServer.start(
      {
        listen: '127.0.0.1:0',
        policy: { allow: [{ cidr: '127.0.0.1/32', ports: [target.port] }] },
        compat: {
          websockify: { targets: { 'echo-token-123': { host: '127.0.0.1', port: target.port } } },
          wisp: [{ path: '/wisp/' }],
        },
      },
      { onEvent: (e) => events.push(e) },
    );
  });

  afterAll(async () => {
    await bridge?.close();
    await target?.close();
  });

  it('labels sessions, streams and bytes wisp / websockify; policy denials counted', async () => {
    // websockify: 1000 bytes up, echoed, then the client closes.
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.address.port}/websockify?token=echo-token-123`, ['binary']);
    await once(ws, 'open');
    ws.send(randomBytes(1000));
    let got = 0;
    await new Promise<void>((resolve) =>
      ws.on('message', (d: Buffer) => {
        got += d.length;
        if (got === 1000) resolve();
      }),
    );
    ws.close(1000);
    await once(ws, 'close');
    // Wisp (v2): one echoed stream of 2000 bytes, one denied.
    const conn = await mustOpen(`ws://127.0.0.1:${bridge.address.port}/wisp/`);
    const data = randomBytes(2000);
    expect((await echo(conn, '127.0.0.1', target.port, data)).back.length).toBe(2000);
    expect((await echo(conn, '127.0.0.1', 9, Buffer.from('x'))).reason).toBe(WispCloseReason.BLOCKED);
    conn.close();
    await expect.poll(() => events.filter((e) => e.event === 'session_end').length).toBe(2);

    const m = parseMetrics(await (await fetch(`http://127.0.0.1:${bridge.address.port}/metrics`)).text());
    expect(m.get('wsocks_sessions_total{protocol="websockify"}')).toBe(1);
    expect(m.get('wsocks_sessions_total{protocol="wisp"}')).toBe(1);
    expect(m.get('wsocks_sessions_total{protocol="wsocks"}')).toBeUndefined();
    expect(m.get('wsocks_streams_total{command="connect",route="direct",protocol="websockify"}')).toBe(1);
    expect(m.get('wsocks_streams_total{command="connect",route="direct",protocol="wisp"}')).toBe(1);
    expect(m.get('wsocks_bytes_total{direction="up",protocol="websockify"}')).toBe(1000);
    expect(m.get('wsocks_bytes_total{direction="down",protocol="websockify"}')).toBe(1000);
    // Counted as the bridge takes them from the client: the denied stream's 1 byte (sent before its CLOSE) too.
    expect(m.get('wsocks_bytes_total{direction="up",protocol="wisp"}')).toBe(2001);
    expect(m.get('wsocks_bytes_total{direction="down",protocol="wisp"}')).toBe(2000);
    expect(m.get('wsocks_policy_denials_total{reason="ERR_POLICY_DENIED"}')).toBe(1);
    expect(m.get('wsocks_session_closes_total{code="1000",protocol="websockify"}')).toBe(1);

    const ends = events.filter((e) => e.event === 'stream_end');
    expect(ends).toContainEqual(expect.objectContaining({ protocol: 'websockify', stream: 1, target: `127.0.0.1:${target.port}`, bytesUp: 1000, bytesDown: 1000, reason: 'client_closed' }));
    expect(ends).toContainEqual(expect.objectContaining({ protocol: 'wisp', target: `127.0.0.1:${target.port}`, bytesUp: 2000, bytesDown: 2000, reason: 'client_closed' }));
    expect(ends).toContainEqual(expect.objectContaining({ protocol: 'wisp', target: '127.0.0.1:9', reason: 'ERR_POLICY_DENIED' }));
    expect(events.filter((e) => e.event === 'session_start').map((e) => e.protocol)).toEqual(['websockify', 'wisp']);
  });
});
