import type { Request, Response, Router, RequestHandler } from 'express';
import { compileBody, compileQuery, JsonSchema, validationError, Validator } from './validation';
import { Principal, Role } from './auth';
import { AppError } from '../errors';

export interface RouteSpec {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** Express path, e.g. /subscribers/:id */
  path: string;
  summary: string;
  tag: string;
  /** Roles allowed; 'public' for no authentication. */
  auth: 'public' | Role[];
  params?: JsonSchema;
  query?: JsonSchema;
  body?: JsonSchema;
  /** Status of a successful answer (documented; the handler's return value is sent as JSON). */
  status?: number;
  responseDescription?: string;
  produces?: string;
}

export interface Ctx<B = any, Q = any, P = any> {
  req: Request;
  res: Response;
  body: B;
  query: Q;
  params: P;
  principal: Principal;
}

export type Handler = (ctx: Ctx) => Promise<unknown>;

interface Registered {
  spec: RouteSpec;
}

/**
 * Every API route is declared here once: the same declaration mounts the Express handler,
 * validates input, checks roles and feeds the OpenAPI document, so the document cannot drift
 * from the routes (tests/integration/openapi.test.ts checks the Express stack against it).
 */
export class RouteRegistry {
  readonly routes: Registered[] = [];

  constructor(
    private readonly router: Router,
    private readonly authenticate: (req: Request) => Promise<Principal | null>,
  ) {}

  add(spec: RouteSpec, handler: Handler): void {
    const v: { body?: Validator; query?: Validator; params?: Validator } = {};
    if (spec.body) v.body = compileBody(spec.body);
    if (spec.query) v.query = compileQuery(spec.query);
    if (spec.params) v.params = compileQuery(spec.params);
    const wrapped: RequestHandler = async (req, res, next) => {
      try {
        let principal: Principal | null = null;
        if (spec.auth !== 'public') {
          principal = await this.authenticate(req);
          if (!principal) throw new AppError('UNAUTHENTICATED', 'authentication required');
          if (!spec.auth.includes(principal.role)) throw new AppError('FORBIDDEN', 'your role may not do this');
        }
        const params = { ...req.params };
        if (v.params && !v.params(params)) throw validationError('params', v.params.errors);
        const query = { ...(req.query as Record<string, unknown>) };
        if (v.query && !v.query(query)) throw validationError('query', v.query.errors);
        let body: unknown = req.body;
        if (spec.body) {
          if (body === undefined) body = {};
          if (v.body && !v.body(body)) throw validationError('body', v.body.errors);
        } else if (req.body !== undefined && Object.keys(req.body as object).length > 0) {
          throw new AppError('VALIDATION_FAILED', 'this endpoint takes no body', { errors: [{ path: 'body', message: 'unknown field' }] });
        }
        const result = await handler({ req, res, body, query, params, principal: principal as Principal });
        if (res.headersSent) return;
        const status = spec.status ?? 200;
        if (status === 204) res.status(204).end();
        else res.status(status).json(result);
      } catch (err) {
        next(err);
      }
    };
    this.router[spec.method](spec.path, wrapped);
    this.routes.push({ spec });
  }

  openapi(info: { title: string; version: string }): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const { spec } of this.routes) {
      const p = '/api/v1' + spec.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      const op: Record<string, unknown> = {
        summary: spec.summary,
        tags: [spec.tag],
        operationId: `${spec.method}${spec.path.replace(/[/:-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
        responses: {
          [String(spec.status ?? 200)]: spec.produces
            ? { description: spec.responseDescription ?? 'OK', content: { [spec.produces]: {} } }
            : { description: spec.responseDescription ?? 'OK' },
          default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        },
      };
      if (spec.auth !== 'public') {
        op.security = [{ bearer: [] }, { apiKey: [] }];
        op['x-roles'] = spec.auth;
      }
      const parameters: unknown[] = [];
      const props = (s?: JsonSchema) => (s?.properties ?? {}) as Record<string, unknown>;
      for (const [name, schema] of Object.entries(props(spec.params))) parameters.push({ name, in: 'path', required: true, schema });
      const req = (spec.query?.required ?? []) as string[];
      for (const [name, schema] of Object.entries(props(spec.query))) parameters.push({ name, in: 'query', required: req.includes(name), schema });
      if (parameters.length) op.parameters = parameters;
      if (spec.body) op.requestBody = { required: true, content: { 'application/json': { schema: spec.body } } };
      (paths[p] ??= {})[spec.method] = op;
    }
    return {
      openapi: '3.1.0',
      info,
      servers: [{ url: '/' }],
      paths,
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'JWT from POST /api/v1/auth/login, or an API key (lk_...)' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
        schemas: {
          Error: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
              },
            },
          },
        },
      },
    };
  }
}
