/**
 * An xterm.js addon that attaches a terminal to a wsocks stream, in the manner of `@xterm/addon-attach`: bytes from
 * the stream are written to the terminal and typed input goes to the stream. Flow control follows xterm.js's guide:
 * bytes handed to `write()` are counted until its callback, the stream is not read above a high watermark (so the
 * bridge gets no credit and the target is held back), and reading resumes below a low one.
 */
import type { IDisposable, ITerminalAddon, Terminal } from '@xterm/xterm';
import type { SocketOpenInfo } from '../client/socket.ts';
import { incompleteUtf8Tail } from './utf8-tail.ts';

export interface AttachOptions {
  /** Local echo and line editing, sending a line (with CRLF) on Enter; most line-based services expect this. */
  lineMode?: boolean;
  /** Every chunk of the session's data, for a data view. */
  onBytes?: (direction: 'sent' | 'received', bytes: Uint8Array) => void;
  /** The readable ended (the peer's FIN) or failed. */
  onReadableEnd?: (error?: unknown) => void;
}

const HIGH_WATER = 512 * 1024;
const LOW_WATER = 128 * 1024;
const ACK_EVERY = 100 * 1024;

export class WsocksAttachAddon implements ITerminalAddon {
  lineMode: boolean;
  private terminal: Terminal | undefined;
  private readonly disposables: IDisposable[] = [];
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private writer: WritableStreamDefaultWriter<ArrayBuffer | ArrayBufferView> | undefined;
  private readonly encoder = new TextEncoder();
  private line = '';
  /** Bytes given to term.write() whose callback has not run yet. */
  private pending = 0;
  private unacked = 0;
  private resume: (() => void) | undefined;
  private carry = new Uint8Array(0);
  private disposed = false;

  constructor(
    private readonly stream: SocketOpenInfo,
    private readonly options: AttachOptions = {},
  ) {
    this.lineMode = options.lineMode ?? false;
  }

  activate(terminal: Terminal): void {
    this.terminal = terminal;
    this.reader = this.stream.readable.getReader();
    this.writer = this.stream.writable.getWriter();
    this.disposables.push(terminal.onData((data) => this.input(data)));
    void this.pump();
  }

  /** Sends FIN: "no more from me". The terminal keeps showing what the target sends. */
  async halfClose(): Promise<void> {
    if (this.line) this.line = '';
    await this.writer?.close().catch(() => {});
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables) d.dispose();
    // A disposed terminal drops pending write callbacks: release the stream so that it does not stall.
    this.resume?.();
    void this.reader?.cancel().catch(() => {});
    this.writer?.releaseLock();
  }

  private async pump(): Promise<void> {
    const reader = this.reader!;
    for (;;) {
      if (this.pending > HIGH_WATER) await new Promise<void>((resolve) => (this.resume = resolve));
      if (this.disposed) return;
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (err) {
        this.options.onReadableEnd?.(err);
        return;
      }
      if (result.done) {
        if (this.carry.length) this.write(this.carry, true);
        this.options.onReadableEnd?.();
        return;
      }
      this.options.onBytes?.('received', result.value);
      let bytes = result.value;
      if (this.carry.length) {
        const joined = new Uint8Array(this.carry.length + bytes.length);
        joined.set(this.carry);
        joined.set(bytes, this.carry.length);
        bytes = joined;
      }
      const tail = incompleteUtf8Tail(bytes);
      this.carry = bytes.slice(bytes.length - tail);
      this.write(bytes.subarray(0, bytes.length - tail), false);
    }
  }

  private write(bytes: Uint8Array, last: boolean): void {
    if (!this.terminal || this.disposed || bytes.length === 0) return;
    this.pending += bytes.length;
    this.unacked += bytes.length;
    if (this.unacked < ACK_EVERY && !last && this.pending < HIGH_WATER) {
      this.terminal.write(bytes);
      return;
    }
    const acked = this.unacked;
    this.unacked = 0;
    this.terminal.write(bytes, () => {
      this.pending -= acked;
      if (this.pending < LOW_WATER && this.resume) {
        const r = this.resume;
        this.resume = undefined;
        r();
      }
    });
  }

  private send(text: string): void {
    const bytes = this.encoder.encode(text);
    this.options.onBytes?.('sent', bytes);
    void this.writer?.write(bytes).catch(() => {});
  }

  private input(data: string): void {
    if (!this.lineMode) return this.send(data);
    const term = this.terminal!;
    for (const ch of data) {
      if (ch === '\r' || ch === '\n') {
        term.write('\r\n');
        this.send(`${this.line}\r\n`);
        this.line = '';
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.line) {
          this.line = Array.from(this.line).slice(0, -1).join('');
          term.write('\b \b');
        }
      } else if (ch === '\x03') {
        this.line = '';
        term.write('^C\r\n');
      } else if (ch >= ' ') {
        this.line += ch;
        term.write(ch);
      }
    }
  }
}
