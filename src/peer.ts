/**
 * Peer credentials of a connected Unix socket (SO_PEERCRED, read natively).
 * Sync; throws SentinelError SENTINEL_E_PEER_REJECTED when the socket has no file descriptor.
 */
import type net from 'node:net';
import { addon } from './binding.js';
import { SentinelError } from './errors.js';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/** Node keeps the descriptor on the socket's libuv handle; it is not public API, so check it. */
interface HandleWithFd {
  _handle?: { fd?: unknown };
}

export function peerCredentials(socket: net.Socket): PeerCredentials {
  const fd = (socket as unknown as HandleWithFd)._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new SentinelError('SENTINEL_E_PEER_REJECTED', 'socket has no file descriptor');
  return addon().peerCredentials(fd);
}
