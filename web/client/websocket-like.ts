/** The part of the WebSocket API the client uses: the browser's WebSocket and Node's `ws` both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly protocol: string;
  /** Bytes given to send() and not yet handed to the network; 0 means it holds no reference to any sent buffer. */
  readonly bufferedAmount?: number;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: { data?: unknown; code?: number; reason?: string }) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
