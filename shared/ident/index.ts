/** The Identification Protocol (RFC 1413) without I/O: the query and the reply parser. */
export * from './errors.ts';
export * from './query.ts';
export * from './reply.ts';
