/** The SOCKS codec: sans-I/O encoders, decoders and handshake state machines over Uint8Array. */
export * from './constants.ts';
export * from './errors.ts';
export * from './address.ts';
export * from './reader.ts';
export * from './encode-result.ts';
export * from './socks5-address.ts';
export * from './socks4.ts';
export * from './socks5.ts';
export * from './userpass.ts';
export * from './gssapi.ts';
export * from './udp.ts';
export * from './server-handshake.ts';
export * from './client-handshake.ts';
export * from './reply-context.ts';
