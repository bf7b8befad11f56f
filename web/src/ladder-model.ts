/**
 * A session's record as a ladder diagram, without the DOM: columns (browser, bridge, hop 1 … hop N, target) and
 * steps in time order. Each step is an arrow between two columns or a note on one; messages to hop k > 1 travel
 * inside the tunnels of hops 1 … k-1, so they are grouped into nested tunnel blocks.
 */
import { replyCodeText } from './explain.ts';
import type { SessionRecord } from './transcript-file.ts';

export type StepKind = 'open' | 'local' | 'message' | 'opened' | 'data' | 'failure' | 'error';

export interface LadderStep {
  kind: StepKind;
  /** Column indices (0 browser, 1 bridge, 1+k hop k, last the target); equal for a note on one column. */
  from: number;
  to: number;
  /** Short text on the arrow. */
  label: string;
  /** The whole step in words (the arrow's accessible name). */
  description: string;
  /** Milliseconds (transcript time), when known. */
  at?: number;
  /** The transcript entry behind the step (its byte card), if any. */
  entry?: number;
  /** Hops whose tunnels the step travels inside (hop 2's messages: [1]). */
  tunnel: number[];
  /** Stable identity for comparing two diagrams: kind, columns, entry kind, label. */
  key: string;
  /** For failures: the step did not arrive (a crossed-out arrow). */
  failed?: boolean;
}

export interface Ladder {
  columns: string[];
  steps: LadderStep[];
}

/** Steps grouped for drawing: a plain step, or a tunnel block holding the steps that travel through `through`. */
export type LadderNode = { step: LadderStep; index: number } | { through: number; children: LadderNode[] };

const SHORT: Record<string, string> = {
  'socks5.greeting': 'greeting',
  'socks5.method': 'method choice',
  'socks5.auth': 'username + password',
  'socks5.auth-reply': 'auth status',
  'socks5.request': 'request',
  'socks5.reply': 'reply',
  'socks4.request': 'SOCKS4 request',
  'socks4.reply': 'SOCKS4 reply',
  'udp.datagram': 'datagram',
};
const COMMANDS: Record<number, string> = { 1: 'CONNECT', 2: 'BIND', 3: 'UDP ASSOCIATE' };
/** The short name of a message kind (an imported file may hold any string, `constructor` included). */
const shortName = (kind: string): string => (Object.hasOwn(SHORT, kind) ? SHORT[kind]! : kind);
/** Reply codes that mean the hop tried to reach the next one and could not. */
const REACH_FAILURES = new Set([0x03, 0x04, 0x05, 0x06, 0x5b]);

export function buildLadder(record: SessionRecord): Ladder {
  const hops = Math.max(0, ...record.entries.map((e) => e.hop), record.error?.hop ?? 0);
  const columns = ['browser', 'bridge', ...Array.from({ length: hops }, (_, i) => `hop ${i + 1}`), record.target === 'BIND' ? 'peer' : 'target'];
  const target = columns.length - 1;
  const col = (hop: number) => (hop === 0 ? 1 : 1 + hop);
  const name = (c: number) => columns[c]!;
  const steps: LadderStep[] = [];
  const push = (s: Omit<LadderStep, 'key' | 'description' | 'tunnel'> & { tunnel?: number[]; what?: string }) => {
    const tunnel = s.tunnel ?? [];
    const route = s.from === s.to ? `at the ${name(s.from)}` : `${name(s.from)} → ${name(s.to)}`;
    const inside = tunnel.length ? `, inside the tunnel through ${tunnel.map((t) => `hop ${t}`).join(' and ')}` : '';
    const when = s.at !== undefined ? `, +${s.at.toFixed(1)} ms` : '';
    steps.push({
      kind: s.kind,
      from: s.from,
      to: s.to,
      label: s.label,
      ...(s.at !== undefined ? { at: s.at } : {}),
      ...(s.entry !== undefined ? { entry: s.entry } : {}),
      ...(s.failed ? { failed: true } : {}),
      tunnel,
      description: `${route}${inside}: ${s.what ?? s.label}${when}`,
      key: `${s.kind}:${s.from}>${s.to}:${s.label}`,
    });
  };

  push({ kind: 'open', from: 0, to: 1, label: `open ${record.target}`, what: `the browser asks the bridge to open ${record.target}` });
  record.entries.forEach((e, i) => {
    if (e.direction === 'local') {
      push({ kind: 'local', from: 1, to: 1, label: e.kind, what: `${e.kind}: ${e.note ?? ''}`, at: e.at, entry: i });
      return;
    }
    if (e.hop === 0) {
      // A UDP datagram with its header: between the browser and the target, through the relay.
      const [from, to] = e.direction === 'sent' ? [0, target] : [target, 0];
      push({ kind: 'message', from, to, label: shortName(e.kind), at: e.at, entry: i, what: `UDP datagram, ${bytes(e.hex)}` });
      return;
    }
    const [from, to] = e.direction === 'sent' ? [1, col(e.hop)] : [col(e.hop), 1];
    const label = messageLabel(e.kind, e.fields);
    // A relayed UDP datagram travels on its own, not inside the TCP tunnel.
    const tunnel = e.kind === 'udp.datagram' ? [] : Array.from({ length: e.hop - 1 }, (_, k) => k + 1);
    push({ kind: 'message', from, to, label, at: e.at, entry: i, tunnel, what: `${label}, ${bytes(e.hex)}` });
  });
  if (record.error) {
    failureSteps(record.error, hops, target, col, push);
    // A hop that could not reach the next one tried before it replied: draw the attempt before that reply.
    const failure = steps.findIndex((s) => s.kind === 'failure');
    const hop = record.error.hop;
    if (hop !== undefined && steps[failure]!.from === col(hop) && steps[failure]!.to > col(hop)) {
      let reply = -1;
      steps.forEach((s, i) => {
        if (s.entry !== undefined && record.entries[s.entry]!.hop === hop && record.entries[s.entry]!.direction === 'received') reply = i;
      });
      if (reply >= 0) steps.splice(reply, 0, ...steps.splice(failure, 1));
    }
  }
  else if (record.opened) {
    push({ kind: 'opened', from: 1, to: 0, label: 'opened', what: `opened: the stream leads to ${record.opened.remoteAddress}:${record.opened.remotePort}` });
  }
  const data = record.firstData;
  if (data?.sent) push({ kind: 'data', from: 0, to: target, label: `first data: ${preview(data.sent.hex)}`, what: `the first bytes the browser sent, ${bytes(data.sent.hex)}: ${data.sent.hex}` });
  if (data?.received) push({ kind: 'data', from: target, to: 0, label: `first data: ${preview(data.received.hex)}`, what: `the first bytes that came back, ${bytes(data.received.hex)}: ${data.received.hex}` });
  return { columns, steps };
}

/** The failure where it happened, then the bridge's error to the browser. */
function failureSteps(
  error: NonNullable<SessionRecord['error']>,
  hops: number,
  target: number,
  col: (hop: number) => number,
  push: (s: Omit<LadderStep, 'key' | 'description' | 'tunnel'> & { what?: string }) => void,
): void {
  const code = error.replyCode !== undefined ? replyCodeText(error.replyCode) : error.code;
  if (error.hop === undefined) {
    if (error.code === 'ERR_CONNECT_FAILED' || error.code === 'ERR_TIMEOUT') {
      push({ kind: 'failure', from: 1, to: target, label: `✗ ${code}`, failed: true, what: `the bridge could not reach the target: ${error.message}` });
    } else push({ kind: 'failure', from: 1, to: 1, label: `✗ ${error.code}`, failed: true, what: `the bridge refused or failed: ${error.message}` });
  } else if (error.code === 'ERR_CONNECT_FAILED' || (error.code === 'ERR_TIMEOUT' && error.replyCode === undefined)) {
    // The connection to the hop itself failed.
    push({ kind: 'failure', from: col(error.hop - 1), to: col(error.hop), label: `✗ ${code}`, failed: true, what: `hop ${error.hop} could not be reached: ${error.message}` });
  } else if (error.replyCode !== undefined && REACH_FAILURES.has(error.replyCode)) {
    const next = error.hop < hops ? col(error.hop + 1) : target;
    push({ kind: 'failure', from: col(error.hop), to: next, label: `✗ ${code}`, failed: true, what: `hop ${error.hop} could not reach the next one: ${code}` });
  } else {
    push({ kind: 'failure', from: col(error.hop), to: col(error.hop), label: `✗ ${code}`, failed: true, what: `hop ${error.hop} failed: ${error.message}` });
  }
  push({ kind: 'error', from: 1, to: 0, label: `error ${error.code}`, what: `the bridge reports ${error.code}${error.hop ? ` at hop ${error.hop}` : ''}: ${error.message}` });
}

function messageLabel(kind: string, fields: ReadonlyArray<{ label: string; value: number | string }>): string {
  const short = shortName(kind);
  const field = (l: string) => fields.find((f) => f.label === l)?.value;
  const cmd = field('CMD') ?? (kind === 'socks4.request' ? field('CD') : undefined);
  if (typeof cmd === 'number' && Object.hasOwn(COMMANDS, cmd)) return `${COMMANDS[cmd]} ${kind.startsWith('socks4') ? '(SOCKS4)' : 'request'}`;
  for (const l of ['REP', 'CD', 'STATUS', 'METHOD']) {
    const v = field(l);
    if (typeof v === 'number' && (kind.endsWith('reply') || kind.endsWith('method'))) return `${short} ${l} 0x${v.toString(16).padStart(2, '0')}`;
  }
  return short;
}

function bytes(hex: string): string {
  const n = hex ? hex.split(' ').length : 0;
  return `${n} byte${n === 1 ? '' : 's'}`;
}

/** The first bytes as text when printable, else as hex. */
function preview(hex: string): string {
  const b = hex.split(' ').slice(0, 16).map((x) => parseInt(x, 16));
  const printable = b.every((x) => x === 10 || x === 13 || (x >= 0x20 && x < 0x7f));
  const text = printable ? JSON.stringify(String.fromCharCode(...b)) : b.map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return hex.split(' ').length > 16 ? `${text}…` : text;
}

/** Groups steps into nested tunnel blocks: a run of steps inside hop 1's tunnel, within it those inside hop 2's ... */
export function nestSteps(steps: readonly LadderStep[]): LadderNode[] {
  const root: LadderNode[] = [];
  // The open blocks, outermost first: stack[d] holds the children of the block for tunnel depth d (0: the root).
  const stack: LadderNode[][] = [root];
  steps.forEach((step, index) => {
    const depth = step.tunnel.length;
    while (stack.length - 1 > depth) stack.pop();
    while (stack.length - 1 < depth) {
      const block: LadderNode = { through: stack.length, children: [] };
      stack.at(-1)!.push(block);
      stack.push(block.children);
    }
    stack.at(-1)!.push({ step, index });
  });
  return root;
}
