/** Small TCP services for the demo, all on loopback: echo, a line-based chat with a banner, HTTP, and a firehose. */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { listen, boundAddress } from '../net/listen.ts';

export interface DemoTargets {
  echo: number;
  chat: number;
  http: number;
  firehose: number;
  /** A port nothing listens on, to show a refused connection. */
  refused: number;
  close(): Promise<void>;
}

function tracked(server: Server): () => Promise<void> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
}

/** Every line from one user goes to all; "/help", "/who", "/quit". */
function chatServer(): Server {
  const users = new Map<Socket, string>();
  let next = 1;
  const say = (line: string, except?: Socket) => {
    for (const s of users.keys()) if (s !== except) s.write(`${line}\r\n`);
  };
  return createServer({ allowHalfOpen: false }, (s) => {
    const name = `guest${next++}`;
    users.set(s, name);
    s.write(`Welcome to the wsocks demo chat, ${name}. Type /help for commands.\r\n`);
    say(`* ${name} joined`, s);
    let buffered = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buffered += d;
      if (buffered.length > 4096) buffered = buffered.slice(-4096);
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        if (line === '/help') s.write('commands: /help, /who, /quit; anything else is said to everyone\r\n');
        else if (line === '/who') s.write(`here: ${[...users.values()].join(', ')}\r\n`);
        else if (line === '/quit') s.end('bye\r\n');
        else if (line) say(`<${name}> ${line}`);
      }
    });
    s.on('close', () => {
      users.delete(s);
      say(`* ${name} left`);
    });
  });
}

/** Sends `lines` numbered lines of text as fast as flow control allows, then closes: `cat` of a large file. */
function firehoseServer(lines: number): Server {
  return createServer((s) => {
    let i = 0;
    const pump = () => {
      while (i < lines) {
        i++;
        const line = `${String(i).padStart(6, '0')} the quick brown fox jumps over the lazy dog \u00e9\u00e8\u20ac\u{1F98A}\r\n`;
        if (!s.write(line)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
}

export async function startDemoTargets(): Promise<DemoTargets> {
  const echo = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  const chat = chatServer();
  const http = createHttpServer((req, res) => {
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.end(`Hello from the wsocks demo HTTP server.\nYou asked for ${req.method} ${req.url}.\n`);
  });
  const firehose = firehoseServer(100_000);
  const refusedServer = createServer();
  const servers = [echo, chat, http, firehose, refusedServer];
  const closers = servers.map(tracked);
  for (const s of servers) await listen(s, '127.0.0.1', 0);
  const refused = boundAddress(refusedServer).port;
  await closers.pop()!();
  return {
    echo: boundAddress(echo).port,
    chat: boundAddress(chat).port,
    http: boundAddress(http).port,
    firehose: boundAddress(firehose).port,
    refused,
    close: async () => {
      await Promise.all(closers.map((c) => c()));
    },
  };
}
