/** Lango RADIUS: dictionary, codec (pure), auth helpers and the UDP client. */
export * from './errors';
export * from './dictionary';
export * from './attributes';
export * from './pap';
export * from './chap';
export * from './mschapv2';
export * from './codec';
export * from './backoff';
export * from './id-allocator';
export * from './client';
export * from './identification';
export * from './transport';
export * from './dynauth-server';
