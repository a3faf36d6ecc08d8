/** Who did something, as the audit log and the outbox record it. */
export interface Actor {
  /**
   * 'platform': a platform admin acting on a tenant. The id is stored, but reads a tenant can
   * see show the actor as "platform" without it.
   */
  type: 'user' | 'api_key' | 'system' | 'platform';
  id: string | null;
}

export const SYSTEM: Actor = { type: 'system', id: null };

/** The actor id a tenant may see: never a platform admin's. */
export function visibleActorId(type: string, id: string | null): string | null {
  return type === 'platform' ? null : id;
}
