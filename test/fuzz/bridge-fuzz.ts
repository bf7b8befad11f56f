/**
 * Drives a LIVE bridge with generated input (fast-check): control messages built from the protocol's shapes and
 * mutated, arbitrary JSON and text, data frames for open and unknown streams, pings, oversized messages, and raw
 * TCP bytes on the upgrade. Checks, throughout: the bridge stays up; every answer is a valid bridge message
 * (BridgeMessageSchema) and every error carries a known code; the outgoing buffers stay within the documented bound;
 * a second session keeps relaying. Used by test/integration/bridge-fuzz.test.ts (10^5 inputs) and
 * `npm run fuzz` (scripts/fuzz.ts, 10^6 and more).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import WebSocket from 'ws';
import { BridgeServer } from '../../server/bridge/bridge-server.ts';
import { SocksServer } from '../../server/socks/server.ts';
import { SESSION_CLOSE_CODES } from '../../shared/protocol/close-codes.ts';
import { WsocksErrorCode } from '../../shared/protocol/errors.ts';
import { decodeDataFrame, encodeDataFrame } from '../../shared/protocol/frame.ts';
import { BridgeMessageSchema } from '../../shared/protocol/messages.ts';
import { startEcho } from '../helpers/net.ts';
import { rawSession, type RawSession } from '../helpers/raw-session.ts';

export interface FuzzOptions {
  /** Total inputs: WebSocket messages, pings and raw upgrade connections. */
  inputs: number;
  seed?: number;
  /** Inputs sent on one session before it is closed and another opened. */
  perSession?: number;
  progress?: (line: string) => void;
}

export interface FuzzReport {
  inputs: number;
  sessions: number;
  rawConnections: number;
  answers: number;
  errorCodes: Record<string, number>;
  closeCodes: Record<string, number>;
  peakBufferedBytes: number;
  bufferBound: number;
  witnessRoundTrips: number;
  heapGrowthBytes: number;
  memoryBound: number;
}

const KNOWN_CODES = new Set<string>(Object.values(WsocksErrorCode));
/** Closes a fuzzed session may legitimately get: normal, going away, message too big, and the coded ones. */
const ALLOWED_CLOSES = new Set<number>([1000, 1005, 1009, ...Object.values(SESSION_CLOSE_CODES)]);
const SENTINEL_ID = 0xffffffff;

const LIMITS = {
  streamsPerSession: 8,
  sessionsPerClient: 64,
  maxSessions: 16,
  maxStreams: 24,
  maxMessageBytes: 16 * 1024,
  window: 64 * 1024,
  maxBufferedBytes: 64 * 1024,
  overloadTimeoutMs: 2_000,
  handshakeTimeoutMs: 2_000,
} as const;

/** docs/bridge.md "Worst-case memory" for LIMITS. */
/**
 * The heap in use after a full collection: without one, garbage of the generator (which runs in this process)
 * would count as growth. `--expose-gc` is set at run time so no runner flag is needed.
 */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

export function documentedBound(): number {
  const { maxSessions, maxStreams, maxMessageBytes: M, maxBufferedBytes: B, window: W } = LIMITS;
  const X = Math.max(M, 64 * 1024);
  return maxSessions * (2 * B + X + M) + maxStreams * (W + 64 * 1024 + 10 * 1024);
}

function nastyHost(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '127.0.0.1', ' 127.0.0.1', '\t127.0.0.1', '127.0.0.1 ', '\uff11\uff12\uff17.\uff10.\uff10.\uff11', 'localhost', '::1', '[::1]',
      '::ffff:127.0.0.1', '0x7f.1', '2130706433', '0177.0.0.1', '127.1', '0.0.0.0', 'b\u00fccher.example', '127.0.0.1\u0000',
      'a'.repeat(255), 'x.invalid', '%', '[', '\ud800',
    ),
    fc.string({ maxLength: 24 }),
  );
}

function controlMessage(echoPort: number): fc.Arbitrary<string> {
  const id = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 12 }) }, fc.constantFrom(0, -1, 2 ** 32, 1.5, '1', null));
  const port = fc.oneof({ weight: 3, arbitrary: fc.constant(echoPort) }, fc.integer({ min: -2, max: 70_000 }));
  const window = fc.oneof(fc.integer({ min: 1, max: 2 ** 31 }), fc.constantFrom(0, 2 ** 31 + 1, -1, 1e300));
  const hop = fc.record(
    { type: fc.constantFrom('socks5', 'socks4a', 'socks4', 'http'), host: nastyHost(), port, username: fc.string({ maxLength: 4 }) },
    { requiredKeys: ['type', 'host', 'port'] },
  );
  const structured = fc.record(
    {
      type: fc.constantFrom('open', 'open', 'open', 'credit', 'end', 'close', 'hello', 'x'),
      id,
      host: nastyHost(),
      port,
      window,
      bytes: window,
      route: fc.constantFrom('s5', 's4a', 's4', 'nope', ''),
      via: fc.array(hop, { maxLength: 2 }),
      command: fc.constantFrom('connect', 'bind', 'udp', 'x'),
      inspect: fc.boolean(),
      extra: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: ['type'] },
  );
  // Opens that pass the schema, so that policy, routes, limits and the SOCKS encoders see the nasty hosts.
  const wellFormedOpen = fc.record(
    {
      type: fc.constant('open'),
      id: fc.integer({ min: 1, max: 12 }),
      host: nastyHost().filter((h) => h.length >= 1 && h.length <= 255),
      port: fc.oneof(fc.constant(echoPort), fc.integer({ min: 1, max: 65535 })),
      window: fc.integer({ min: 1, max: 2 ** 31 }),
      route: fc.constantFrom('s5', 's4a', 's4', 'nope'),
      inspect: fc.boolean(),
    },
    { requiredKeys: ['type', 'id', 'host', 'port', 'window'] },
  );
  const wellFormedOther = fc.record({ type: fc.constantFrom('credit', 'end', 'close'), id: fc.integer({ min: 1, max: 12 }), bytes: fc.integer({ min: 1, max: 2 ** 31 }) }).map(
    (m) => (m.type === 'credit' ? m : { type: m.type, id: m.id }),
  );
  return fc.oneof(
    { weight: 6, arbitrary: wellFormedOpen.map((m) => JSON.stringify(m)) },
    { weight: 6, arbitrary: wellFormedOther.map((m) => JSON.stringify(m)) },
    { weight: 6, arbitrary: structured.map((m) => JSON.stringify(m)) },
    { weight: 2, arbitrary: fc.json({ maxDepth: 2 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
  );
}

type WsInput = { kind: 'text'; text: string } | { kind: 'binary'; data: Uint8Array } | { kind: 'ping'; data: Uint8Array };

function wsInput(echoPort: number): fc.Arbitrary<WsInput> {
  return fc.oneof(
    { weight: 10, arbitrary: controlMessage(echoPort).map((text): WsInput => ({ kind: 'text', text })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 14 }), fc.uint8Array({ maxLength: 64 }))
        .map(([sid, data]): WsInput => ({ kind: 'binary', data: sid === 0 ? data : encodeDataFrame(sid, data) })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 125 }).map((data): WsInput => ({ kind: 'ping', data })) },
  );
}

function rawUpgrade(port: number): fc.Arbitrary<Uint8Array> {
  const good =
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wsocks.v1\r\n\r\n`;
  const bytes = new TextEncoder().encode(good);
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.integer({ min: 0, max: bytes.length }), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([at, junk]) => {
      const out = new Uint8Array(bytes.length + junk.length);
      out.set(bytes.subarray(0, at));
      out.set(junk, at);
      out.set(bytes.subarray(at), at + junk.length);
      return out;
    }),
    fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })).map(([at, b]) => {
      const out = bytes.slice();
      out[at] = b;
      return out;
    }),
  );
}

/** Sends raw bytes on a fresh TCP connection and reads until the bridge closes it (or a moment after the answer). */
async function rawConnection(port: number, bytes: Uint8Array): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.end(bytes);
  let answer = '';
  socket.on('data', (d: Buffer) => {
    answer += d.toString('latin1');
    // A completed upgrade stays open until our FIN reaches ws; cut it once the answer is in.
    if (answer.includes('\r\n\r\n')) socket.destroy();
  });
  await once(socket, 'close');
  return answer;
}

class Failure extends Error {}

/** Checks one message from the bridge; throws on anything not in the protocol. */
function checkAnswer(text: string, report: FuzzReport): Record<string, unknown> {
  const parsed = BridgeMessageSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Failure(`answer outside the protocol: ${text.slice(0, 300)}`);
  report.answers++;
  const m = parsed.data;
  if (m.type === 'error') {
    if (!KNOWN_CODES.has(m.code)) throw new Failure(`unknown error code: ${text.slice(0, 300)}`);
    report.errorCodes[m.code] = (report.errorCodes[m.code] ?? 0) + 1;
  }
  return m as Record<string, unknown>;
}

/** A session that keeps relaying through the whole run: one echo round trip per batch. */
async function witnessRoundTrip(w: RawSession, n: number): Promise<void> {
  const text = `witness ${n}`;
  const before = w.frames.length;
  w.ws.send(encodeDataFrame(1, Buffer.from(text)));
  for (;;) {
    const got = Buffer.concat(w.frames.slice(before).map((f) => f.subarray(4))).toString();
    if (got === text) return;
    if (w.ws.readyState !== WebSocket.OPEN) throw new Failure('the witness session was closed');
    await once(w.ws, 'message');
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? 0x5eed;
  const logs: string[] = [];
  const perSession = options.perSession ?? 2_000;
  const echo = await startEcho();
  const socks = await SocksServer.start({ port: 0, rules: [{ action: 'allow', command: ['connect'], port: [String(echo.port)] }] });
  const bridge = await BridgeServer.start({
    listen: '127.0.0.1:0',
    clientChains: true,
    policy: { allow: [{ cidr: '127.0.0.1', ports: [String(echo.port), String(socks.address.port)] }] },
    routes: {
      s5: [{ type: 'socks5', host: '127.0.0.1', port: socks.address.port }],
      s4a: [{ type: 'socks4a', host: '127.0.0.1', port: socks.address.port }],
      s4: [{ type: 'socks4', host: '127.0.0.1', port: socks.address.port }],
    },
    limits: LIMITS,
  }, { log: (l) => { logs.push(l); if (logs.length > 50) logs.shift(); } });
  const report: FuzzReport = {
    inputs: 0,
    sessions: 0,
    rawConnections: 0,
    answers: 0,
    errorCodes: {},
    closeCodes: {},
    peakBufferedBytes: 0,
    bufferBound: LIMITS.maxSessions * (2 * LIMITS.maxBufferedBytes + Math.max(LIMITS.maxMessageBytes, 64 * 1024)),
    witnessRoundTrips: 0,
    heapGrowthBytes: 0,
    memoryBound: documentedBound(),
  };
  const sampler = setInterval(() => {
    report.peakBufferedBytes = Math.max(report.peakBufferedBytes, bridge.stats().bufferedBytes);
  }, 5);
  const heapBefore = heapAfterGc();
  const witness = await rawSession(bridge.url);
  witness.send({ type: 'open', id: 1, host: '127.0.0.1', port: echo.port, window: 2 ** 20 });
  await witness.next((m) => m.type === 'opened');
  const oversized = new Uint8Array(LIMITS.maxMessageBytes + 100);
  try {
    let batch = 0;
    while (report.inputs < options.inputs) {
      const n = Math.min(perSession, options.inputs - report.inputs);
      const inputs = fc.sample(wsInput(echo.port), { numRuns: n, seed: seed + batch });
      const s = await rawSession(bridge.url);
      report.sessions++;
      for (const input of inputs) {
        if (s.ws.readyState !== WebSocket.OPEN) break;
        if (input.kind === 'text') s.ws.send(input.text);
        else if (input.kind === 'ping') s.ws.ping(input.data);
        else s.ws.send(input.data);
        report.inputs++;
      }
      // The sentinel: close the fuzzed ids, then open a host no target may have through a route; its coded error
      // comes after every answer to the input above that did not wait on a dial, and after most that did.
      if (s.ws.readyState === WebSocket.OPEN) {
        for (let id = 1; id <= 14; id++) s.send({ type: 'close', id });
        s.send({ type: 'open', id: SENTINEL_ID, host: ' 127.0.0.1', port: echo.port, route: batch % 2 ? 's5' : 's4a', window: 1 });
        const answer = await Promise.race([s.next((m) => m.id === SENTINEL_ID), s.closed]).catch(() => undefined);
        if (answer && 'type' in answer && answer.type !== 'error') throw new Failure(`sentinel answered ${JSON.stringify(answer)}`);
      }
      // Every tenth session ends with a message over maxMessageBytes: it must be closed with 1009, nothing else.
      if (batch % 10 === 9 && s.ws.readyState === WebSocket.OPEN) {
        s.ws.send(oversized);
        report.inputs++;
        if ((await s.closed).code !== 1009) throw new Failure('an oversized message did not close the session with 1009');
      }
      s.ws.close();
      const { code } = await s.closed;
      report.closeCodes[code] = (report.closeCodes[code] ?? 0) + 1;
      if (!ALLOWED_CLOSES.has(code)) throw new Failure(`session closed with ${code} (batch ${batch}); last answers: ${JSON.stringify(s.messages.slice(-3)).slice(0, 600)}; logs: ${logs.slice(-5).join(' | ')}`);
      for (const m of s.messages) checkAnswer(JSON.stringify(m), report);
      for (const f of s.frames) if (!decodeDataFrame(f)) throw new Failure('a data frame without id and data');
      // Raw upgrade bytes: a few connections per batch, in parallel.
      const raws = fc.sample(rawUpgrade(bridge.address.port), { numRuns: Math.min(20, Math.max(0, options.inputs - report.inputs)), seed: seed + batch });
      const answers = await Promise.all(raws.map((r) => rawConnection(bridge.address.port, r)));
      for (const a of answers) {
        if (a !== '' && !/^HTTP\/1\.1 (101|[45]\d\d) /.test(a)) throw new Failure(`raw upgrade answered: ${a.slice(0, 200)}`);
      }
      report.rawConnections += raws.length;
      report.inputs += raws.length;
      await witnessRoundTrip(witness, batch);
      report.witnessRoundTrips++;
      if (report.peakBufferedBytes > report.bufferBound) throw new Failure(`buffered ${report.peakBufferedBytes} > ${report.bufferBound}`);
      batch++;
      if (batch % 50 === 0) options.progress?.(`${report.inputs} inputs, ${report.answers} answers, peak buffer ${report.peakBufferedBytes}`);
    }
    report.heapGrowthBytes = heapAfterGc() - heapBefore;
    return report;
  } finally {
    clearInterval(sampler);
    witness.ws.terminate();
    await bridge.close();
    await socks.close();
    await echo.close();
  }
}
