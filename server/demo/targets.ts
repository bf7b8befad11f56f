/** Small TCP services for the demo, all on loopback: echo, a line-based chat with a banner, HTTP, and a firehose. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { listen, boundAddress } from '../net/listen.ts';
import { answerDns, DNS_TYPE_A } from '../net/dns-responder.ts';

export interface DemoTargets {
  echo: number;
  chat: number;
  http: number;
  firehose: number;
  /** A port nothing listens on, to show a refused connection. */
  refused: number;
  /** UDP: echoes every datagram. */
  udpEcho: number;
  /** UDP: a tiny DNS server answering A queries for names under demo.test. */
  dns: number;
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

/**
 * The demo's DNS: names under demo.test get an A record from 198.51.100.0/24 (documentation range); anything else
 * gets NXDOMAIN. The wire format is server/net/dns-responder.ts's.
 */
export function answerDnsQuery(query: Buffer): Buffer | null {
  return answerDns(query, (name, type) => {
    if (name !== 'demo.test' && !name.endsWith('.demo.test')) return null;
    if (type !== DNS_TYPE_A) return [];
    let sum = 0;
    for (const ch of name) sum = (sum * 31 + ch.charCodeAt(0)) % 254;
    return [{ address: `198.51.100.${sum + 1}`, ttl: 60 }];
  });
}

async function udpServer(handle: (msg: Buffer) => Buffer | null): Promise<UdpSocket> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const reply = handle(msg);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return socket;
}

/**
 * Connects to a BIND address as "the peer", greets, and answers every line in upper case: the other side of a
 * BIND demo. Only loopback addresses.
 */
export function connectDemoPeer(host: string, port: number): Promise<void> {
  if (!/^127\./.test(host)) return Promise.reject(new Error('the demo peer connects to loopback only'));
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => {
      s.write(`Hello from the demo peer (${s.localAddress}:${s.localPort}). I answer every line in upper case.\r\n`);
      resolve();
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => s.write(d.toUpperCase()));
    s.on('error', (err) => {
      s.destroy();
      reject(err);
    });
    s.setTimeout(300_000, () => s.destroy());
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
  const udpEcho = await udpServer((msg) => msg);
  const dns = await udpServer(answerDnsQuery);
  return {
    udpEcho: udpEcho.address().port,
    dns: dns.address().port,
    echo: boundAddress(echo).port,
    chat: boundAddress(chat).port,
    http: boundAddress(http).port,
    firehose: boundAddress(firehose).port,
    refused,
    close: async () => {
      udpEcho.close();
      dns.close();
      await Promise.all(closers.map((c) => c()));
    },
  };
}
