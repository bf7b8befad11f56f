/**
 * An xterm.js addon that attaches a terminal to a byte stream pair, in the manner of `@xterm/addon-attach` (which
 * takes a WebSocket): any `{ readable, writable }` of bytes, such as a wsocks socket's `opened` or an SSH library's
 * channel. Bytes from the readable are written to the terminal; typed input (`onData`, UTF-8) and binary input
 * (`onBinary`, one byte per character: mouse reports) go to the writable. Flow control follows xterm.js's guide:
 * bytes handed to `write()` are counted until its callback, the readable is not read above a high watermark (so a
 * wsocks bridge gets no credit and the target is held back), and reading resumes below a low one.
 *
 * Leaving the terminal with the keyboard: xterm.js keeps Tab for the shell, so Escape then Tab (Shift+Tab: backwards)
 * moves the focus to the next (previous) focusable element of the page; the Escape still reaches the stream.
 * `leaveKeys: false` turns this off. The addon installs xterm's custom key event handler for it (there is only one).
 */
import type { IDisposable, ITerminalAddon, Terminal } from '@xterm/xterm';
import { incompleteUtf8Tail } from './utf8-tail.ts';

/** A pair of byte streams: a wsocks socket's `await socket.opened`, an SSH channel, a transform pair... */
export interface ByteStreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

export interface AttachOptions {
  /** Local echo and line editing, sending a line (with CRLF) on Enter; most line-based services expect this. */
  lineMode?: boolean;
  /** Every chunk of the session's data, for a data view. */
  onBytes?: (direction: 'sent' | 'received', bytes: Uint8Array) => void;
  /** The readable ended (the peer's FIN) or failed. */
  onReadableEnd?: (error?: unknown) => void;
  /** Escape then Tab leaves the terminal (see above); default true. */
  leaveKeys?: boolean;
}

const HIGH_WATER = 512 * 1024;
const LOW_WATER = 128 * 1024;
const ACK_EVERY = 100 * 1024;

export class WsocksAttachAddon implements ITerminalAddon {
  lineMode: boolean;
  private terminal: Terminal | undefined;
  private readonly disposables: IDisposable[] = [];
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  private readonly encoder = new TextEncoder();
  private line = '';
  /** Bytes given to term.write() whose callback has not run yet. */
  private pending = 0;
  private unacked = 0;
  private resume: (() => void) | undefined;
  private carry = new Uint8Array(0);
  private disposed = false;

  constructor(
    private readonly stream: ByteStreamPair,
    private readonly options: AttachOptions = {},
  ) {
    this.lineMode = options.lineMode ?? false;
  }

  activate(terminal: Terminal): void {
    this.terminal = terminal;
    this.reader = this.stream.readable.getReader();
    this.writer = this.stream.writable.getWriter();
    this.disposables.push(
      terminal.onData((data) => this.input(data)),
      terminal.onBinary((data) => this.sendBytes(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff))),
    );
    if (this.options.leaveKeys ?? true) installLeaveKeys(terminal);
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
    this.sendBytes(this.encoder.encode(text));
  }

  private sendBytes(bytes: Uint8Array): void {
    if (this.disposed) return;
    this.options.onBytes?.('sent', bytes);
    void this.writer?.write(bytes).catch(() => {});
  }

  private input(data: string): void {
    if (!this.lineMode) return this.send(data);
    const term = this.terminal!;
    // Keys that send escape sequences (arrows, Home, F-keys, Alt+key) are swallowed whole: xterm.js hands each over
    // in one onData event, so a lone Escape key never eats the next key typed.
    let escape = '';
    for (const ch of data) {
      if (escape || ch === '\x1b') {
        escape = escapeContinues(escape + ch) ? escape + ch : '';
        continue;
      }
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

/**
 * Whether `seq` (starting with ESC) is an unfinished escape sequence: CSI (`ESC [` parameters, then a final byte
 * 0x40-0x7e), SS3 (`ESC O` and one byte, as some terminals send Home and F1-F4), or ESC and one byte (Alt+key).
 */
export function escapeContinues(seq: string): boolean {
  if (seq.length < 2) return true;
  const kind = seq[1]!;
  if (kind === '[') return seq.length === 2 || !/[\x40-\x7e]/.test(seq.at(-1)!);
  if (kind === 'O') return seq.length === 2;
  return false;
}

/**
 * Escape then Tab moves the focus from the terminal to the next focusable element of the page (Escape then
 * Shift+Tab: the previous one); the Escape still reaches the terminal's program. Installs xterm.js's custom key event
 * handler (there is only one per terminal), so it works before any stream is attached, too.
 */
export function installLeaveKeys(terminal: Terminal): void {
  let escapePressed = false;
  terminal.attachCustomKeyEventHandler((e) => {
    if (e.type !== 'keydown') return true;
    if (e.key === 'Tab' && escapePressed) {
      escapePressed = false;
      e.preventDefault();
      leaveTerminal(terminal, e.shiftKey);
      return false;
    }
    // Shift alone (on its way to Shift+Tab) and other bare modifiers keep the Escape pending.
    if (e.key !== 'Shift' && e.key !== 'Control' && e.key !== 'Alt' && e.key !== 'Meta') escapePressed = e.key === 'Escape';
    return true;
  });
}

function leaveTerminal(terminal: Terminal, backwards: boolean): void {
  const home = terminal.element;
  if (!home) return;
  const focusable = [...home.ownerDocument.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, [tabindex]')].filter(
    (el) => !home.contains(el) && el.tabIndex >= 0 && !(el as HTMLButtonElement).disabled && el.getClientRects().length > 0,
  );
  const after = (el: HTMLElement) => (home.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) !== 0;
  const target = backwards ? focusable.filter((el) => !after(el)).at(-1) : focusable.find(after);
  terminal.blur();
  target?.focus();
}
