import type { WsocksError } from '../../client/index.ts';
import { replyCodeText } from '../explain.ts';
import type { Inspector } from '../inspector.ts';

/**
 * Shows how a stream ended: "closed", or the error with its hop and reply code in words (and in the inspector).
 * Resolves with the error, if there was one.
 */
export async function settled(closed: Promise<void>, inspector: Inspector, setStatus: (text: string, state: string) => void): Promise<WsocksError | undefined> {
  try {
    await closed;
    setStatus('closed', 'closed');
    return undefined;
  } catch (err) {
    const e = err as WsocksError;
    inspector.fail(e);
    setStatus(`error${e.hop ? ` at hop ${e.hop}` : ''}: ${e.code}${e.replyCode !== undefined ? ` (${replyCodeText(e.replyCode)})` : ''}`, 'error');
    return e;
  }
}
