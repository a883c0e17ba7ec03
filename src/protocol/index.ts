export * from './constants.js';
export * from './event.js';
export * from './encode.js';
export * from './decode.js';
export * from './server-frames.js';
export * from './decode-events.js';
