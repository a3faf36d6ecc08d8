/** The Daraja adapter's public surface (see CONTEXT.md). */
export * from './phone';
export * from './result-codes';
export * from './password';
export * from './callbacks';
export * from './token-store';
export * from './daraja-client';
