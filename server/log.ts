/**
 * The command line's logger: pino JSON lines on stderr (one object per line, with `level`, `time`, `msg`), or, when
 * stderr is a terminal, one readable line per record. Nothing secret is ever passed to it.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname']);

/** `2026-11-23T09:00:00.000Z INFO msg key=value ...` from one pino JSON line. */
export function prettyLine(json: string): string {
  const r = JSON.parse(json) as Record<string, unknown>;
  const fields = Object.entries(r)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  const time = typeof r.time === 'number' ? new Date(r.time).toISOString() : '';
  return [time, LEVEL_NAMES[r.level as number] ?? String(r.level), r.msg ?? '', ...fields].filter((p) => p !== '').join(' ');
}

/** A logger on stderr: JSON, or readable lines when `pretty` (default: stderr is a terminal). */
export function createLogger(options: { level?: LevelWithSilent; pretty?: boolean; write?: (s: string) => void } = {}): Logger {
  const write = options.write ?? ((s: string) => void process.stderr.write(s));
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const stream = { write: (line: string) => write(pretty ? `${prettyLine(line)}\n` : line) };
  return pino({ level: options.level ?? 'info', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.epochTime }, stream);
}
