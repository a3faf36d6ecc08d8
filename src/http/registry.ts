import type { Request, Response, Router, RequestHandler } from 'express';
import type { Static, TSchema } from '@sinclair/typebox';
import {
  compileBody,
  compileQuery,
  compileResponse,
  validationError,
  type JsonSchema,
  type Validator,
} from './validation';
import { actorOf, type Principal, type Role } from '../modules/tenancy/principals';
import type { Actor } from '../modules/audit/actor';
import { AppError } from '../lib/errors';
import { tenantOf } from './middleware/authenticate';

export interface RouteSpec {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** Express path, e.g. /subscribers/:id */
  path: string;
  summary: string;
  tag: string;
  /** Roles allowed; 'public' for no authentication. */
  auth: 'public' | readonly Role[];
  /**
   * 'tenant': the route acts on one tenant, ctx.tenantId: the caller's own, or the one a
   * platform admin names with X-Tenant-Id.
   */
  scope?: 'tenant';
  params?: TSchema;
  query?: TSchema;
  body?: TSchema;
  /** The answer's schema (documented; checked in tests, see RegistryOptions.checkResponses). */
  response?: TSchema;
  /** Status of a successful answer (documented; the handler's return value is sent as JSON). */
  status?: number;
  responseDescription?: string;
  produces?: string;
}

type In<S> = S extends TSchema ? Static<S> : undefined;

/** What a handler gets: the validated input typed from the spec's schemas, and who is calling. */
export interface Ctx<S extends RouteSpec> {
  req: Request;
  res: Response;
  params: In<S['params']>;
  query: In<S['query']>;
  body: In<S['body']>;
  principal: S['auth'] extends 'public' ? null : Principal;
  actor: S['auth'] extends 'public' ? null : Actor;
  tenantId: S['scope'] extends 'tenant' ? string : undefined;
}

/** A handler answers with its spec's response type (void without one, or for 204). */
export type Handler<S extends RouteSpec> = (
  ctx: Ctx<S>,
) => Promise<S['response'] extends TSchema ? Static<S['response']> : unknown>;

interface Registered {
  spec: RouteSpec;
}

export interface RegistryOptions {
  authenticate: (req: Request) => Promise<Principal | null>;
  /**
   * Validate every answer against its response schema and fail the request (INTERNAL) when it
   * does not match. On in tests, so a view and its schema cannot drift apart unnoticed.
   */
  checkResponses?: boolean;
}

/**
 * Every API route is declared here once: the same declaration mounts the Express handler,
 * validates input, checks roles, resolves the actor and the tenant, and feeds the OpenAPI
 * document, so the document cannot drift from the routes (tests/integration/openapi.test.ts
 * validates the document and finds each route's schemas in it).
 */
export class RouteRegistry {
  readonly routes: Registered[] = [];

  constructor(
    private readonly router: Router,
    private readonly opts: RegistryOptions,
  ) {}

  add<const S extends RouteSpec>(spec: S, handler: Handler<S>): void {
    const v: { body?: Validator; query?: Validator; params?: Validator; response?: Validator } = {};
    if (spec.body) v.body = compileBody(spec.body);
    if (spec.query) v.query = compileQuery(spec.query);
    if (spec.params) v.params = compileQuery(spec.params);
    if (spec.response && this.opts.checkResponses) v.response = compileResponse(spec.response);
    const wrapped: RequestHandler = async (req, res, next) => {
      try {
        let principal: Principal | null = null;
        if (spec.auth !== 'public') {
          principal = await this.opts.authenticate(req);
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
          throw new AppError('VALIDATION_FAILED', 'this endpoint takes no body', {
            errors: [{ path: 'body', message: 'unknown field' }],
          });
        }
        const tenantId = spec.scope === 'tenant' ? tenantOf(req, principal as Principal) : undefined;
        const ctx = {
          req,
          res,
          body,
          query,
          params,
          principal,
          actor: principal ? actorOf(principal) : null,
          tenantId,
        } as unknown as Ctx<S>;
        const result = await handler(ctx);
        if (res.headersSent) return;
        const status = spec.status ?? 200;
        if (v.response && status !== 204 && !v.response(JSON.parse(JSON.stringify(result ?? null)))) {
          throw new Error(
            `${spec.method} ${spec.path}: the answer does not match its schema: ${JSON.stringify(v.response.errors)}`,
          );
        }
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
      const status = String(spec.status ?? 200);
      const ok: Record<string, unknown> = { description: spec.responseDescription ?? 'OK' };
      if (spec.produces) ok.content = { [spec.produces]: {} };
      else if (spec.response && status !== '204') ok.content = { 'application/json': { schema: spec.response } };
      const op: Record<string, unknown> = {
        summary: spec.summary,
        tags: [spec.tag],
        operationId: `${spec.method}${spec.path.replace(/[/:-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
        responses: {
          [status]: ok,
          default: {
            description: 'Error',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        },
      };
      if (spec.auth !== 'public') {
        op.security = [{ bearer: [] }, { apiKey: [] }];
        op['x-roles'] = spec.auth;
      }
      const parameters: unknown[] = [];
      const props = (s?: JsonSchema) => (s?.properties ?? {}) as Record<string, unknown>;
      for (const [name, schema] of Object.entries(props(spec.params)))
        parameters.push({ name, in: 'path', required: true, schema });
      const req = (spec.query?.required ?? []) as string[];
      for (const [name, schema] of Object.entries(props(spec.query)))
        parameters.push({ name, in: 'query', required: req.includes(name), schema });
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
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'JWT from POST /api/v1/auth/login, or an API key (lk_...)',
          },
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
