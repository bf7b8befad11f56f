/** The wsocks wire protocol: control message schemas, data frames and error codes. */
export * from './messages.ts';
export * from './frame.ts';
export * from './errors.ts';
export * from './close-codes.ts';
