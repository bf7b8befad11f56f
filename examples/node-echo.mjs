// Node: open a TCP stream through a wsocks bridge, send a line, read the answer, close.
//   node node-echo.mjs ws://127.0.0.1:8080/ 127.0.0.1:7
// Node 20 has no global WebSocket: pass the `ws` package's.
import WebSocket from 'ws';
import { connect, WsocksError } from 'wsocks/client';

const [url = 'ws://127.0.0.1:8080/', target = '127.0.0.1:7'] = process.argv.slice(2);

try {
  const session = await connect(url, { WebSocket, timeout: 10_000 });
  console.log(`connected: routes ${JSON.stringify(session.info.routes)}`);
  const socket = session.open(target, { timeout: 10_000 });
  const { readable, writable, remoteAddress, remotePort } = await socket.opened;
  console.log(`opened ${remoteAddress}:${remotePort}`);

  const writer = writable.getWriter();
  await writer.write(new TextEncoder().encode('hello through wsocks\n'));
  await writer.close(); // half-close: the target sees FIN, and may still answer

  let answer = '';
  const decoder = new TextDecoder();
  for await (const chunk of readable) answer += decoder.decode(chunk, { stream: true });
  console.log(`answer: ${answer.trim()}`);

  await socket.closed;
  await session.close();
} catch (err) {
  // Every failure is a WsocksError with a stable code: ERR_BRIDGE_UNREACHABLE, ERR_UNAUTHORIZED, ERR_CONNECT_FAILED...
  if (!(err instanceof WsocksError)) throw err;
  console.error(`failed: ${err.code}: ${err.message}`);
  process.exitCode = 1;
}
