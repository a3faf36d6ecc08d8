/** JSON Schemas shared by the routes (bodies: no coercion, unknown fields rejected). */
const noCtl = '^[^\\u0000-\\u001f\\u007f]*$';

export const str = (max: number, min = 1) => ({ type: 'string', minLength: min, maxLength: max, pattern: noCtl });
export const nullable = (s: Record<string, unknown>) => ({ anyOf: [s, { type: 'null' }] });
export const obj = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties,
});
export const idParams = obj({ id: { type: 'string', format: 'uuid' } }, ['id']);
export const page = {
  limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
  offset: { type: 'integer', minimum: 0, maximum: 10000000, default: 0 },
};
export const email = { type: 'string', format: 'email', maxLength: 254 };
export const staffPassword = { type: 'string', minLength: 10, maxLength: 200 };
