/** RADIUS over UDP: sockets, identifiers per destination, retransmission, verify-then-settle. */
export * from './socket';
export * from './udp-endpoint';
