/**
 * RouterOS script rendering: a tiny template language of our own and the per-NAS provisioning
 * script built from mikrotik/lango.rsc.tmpl.
 *
 * Template syntax (nothing else between `{{` and `}}` is accepted):
 *   {{name}}              a string value as a quoted, escaped RouterOS string; a number bare
 *   {{#name}} … {{/name}} the enclosed text only when the boolean `name` is true
 *   {{^name}} … {{/name}} the enclosed text only when the boolean `name` is false
 * A section tag alone on its line takes the whole line with it. Every name must be present in
 * the data with the right type; an unknown placeholder, a misplaced type or an unbalanced
 * section throws TemplateError, so a template typo can never ship a half-rendered script.
 *
 * Strings are always quoted: inside quotes RouterOS gives `"`, `\`, `$` (variable
 * substitution) and `?` (help in the terminal) a meaning, so those are escaped, and so is every
 * byte outside printable ASCII (`\XX`, capital hex, as the scripting manual asks). A rendered
 * value therefore never contains a raw newline: it cannot end a comment line or a command early,
 * and it cannot smuggle a command into the script, whatever a NAS name or secret contains.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

export type TemplateValue = string | number | boolean;
export type TemplateData = Readonly<Record<string, TemplateValue>>;

export type TemplateErrorReason = 'UNKNOWN_PLACEHOLDER' | 'WRONG_TYPE' | 'MALFORMED_TAG' | 'UNBALANCED_SECTION';

export class TemplateError extends Error {
  readonly code = 'TEMPLATE_ERROR' as const;

  constructor(
    readonly reason: TemplateErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'TemplateError';
  }
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  $: '\\$',
  '?': '\\?',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/** A RouterOS string literal (with its quotes) whose value is exactly `value`'s UTF-8 bytes. */
export function routerOsQuote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const named = NAMED_ESCAPES[ch];
    if (named !== undefined) {
      out += named;
      continue;
    }
    const cp = ch.codePointAt(0) as number;
    if (cp >= 0x20 && cp < 0x7f) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------------------------
// Template engine

type Node =
  | { type: 'text'; text: string }
  | { type: 'value'; name: string }
  | { type: 'section'; name: string; inverted: boolean; children: Node[] };

const TAG = /\{\{([#^/]?)([A-Za-z][A-Za-z0-9]*)\}\}/y;
/** A section tag with nothing else on its line: the line (and its newline) goes with the tag. */
const STANDALONE_SECTION = /^[ \t]*(\{\{[#^/][A-Za-z][A-Za-z0-9]*\}\})[ \t]*\r?\n/gm;

function lineOf(template: string, index: number): number {
  return template.slice(0, index).split('\n').length;
}

function parse(template: string): Node[] {
  const source = template.replace(STANDALONE_SECTION, '$1');
  const root: Node[] = [];
  const stack: Array<{ name: string; children: Node[]; at: number }> = [];
  let current = root;
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open === -1) {
      current.push({ type: 'text', text: source.slice(i) });
      break;
    }
    if (open > i) current.push({ type: 'text', text: source.slice(i, open) });
    TAG.lastIndex = open;
    const m = TAG.exec(source);
    if (!m) {
      const snippet = source.slice(open, open + 24).split('\n')[0];
      throw new TemplateError('MALFORMED_TAG', `malformed placeholder at line ${lineOf(source, open)}: ${snippet}`);
    }
    const [whole, sigil, name] = m as unknown as [string, string, string];
    if (sigil === '') {
      current.push({ type: 'value', name });
    } else if (sigil === '/') {
      const top = stack.pop();
      if (!top || top.name !== name) {
        throw new TemplateError('UNBALANCED_SECTION', `{{/${name}}} at line ${lineOf(source, open)} closes no open {{#${name}}}`);
      }
      current = stack.length > 0 ? (stack[stack.length - 1] as { children: Node[] }).children : root;
    } else {
      const section: Node = { type: 'section', name, inverted: sigil === '^', children: [] };
      current.push(section);
      stack.push({ name, children: section.children, at: open });
      current = section.children;
    }
    i = open + whole.length;
  }
  const unclosed = stack.pop();
  if (unclosed) {
    throw new TemplateError('UNBALANCED_SECTION', `section {{#${unclosed.name}}} at line ${lineOf(source, unclosed.at)} is never closed`);
  }
  return root;
}

function lookup(data: TemplateData, name: string): TemplateValue {
  if (!Object.prototype.hasOwnProperty.call(data, name)) {
    throw new TemplateError('UNKNOWN_PLACEHOLDER', `unknown placeholder {{${name}}}`);
  }
  return data[name] as TemplateValue;
}

function renderNodes(nodes: readonly Node[], data: TemplateData, out: string[]): void {
  for (const node of nodes) {
    if (node.type === 'text') {
      out.push(node.text);
    } else if (node.type === 'value') {
      const value = lookup(data, node.name);
      if (typeof value === 'string') out.push(routerOsQuote(value));
      else if (typeof value === 'number' && Number.isFinite(value)) out.push(String(value));
      else throw new TemplateError('WRONG_TYPE', `{{${node.name}}} needs a string or a finite number, got ${typeof value}`);
    } else {
      const value = lookup(data, node.name);
      if (typeof value !== 'boolean') {
        throw new TemplateError('WRONG_TYPE', `section {{#${node.name}}} needs a boolean, got ${typeof value}`);
      }
      if (value !== node.inverted) renderNodes(node.children, data, out);
    }
  }
}

/**
 * Renders `template` with `data`. The whole template is checked: placeholders inside sections
 * that are not rendered must still be known names (a typo in a rarely used section fails in
 * every test, not on the one router that needs it).
 */
export function renderTemplate(template: string, data: TemplateData): string {
  const nodes = parse(template);
  checkNames(nodes, data);
  const out: string[] = [];
  renderNodes(nodes, data, out);
  return out.join('');
}

function checkNames(nodes: readonly Node[], data: TemplateData): void {
  for (const node of nodes) {
    if (node.type === 'text') continue;
    lookup(data, node.name);
    if (node.type === 'section') checkNames(node.children, data);
  }
}

// ---------------------------------------------------------------------------------------------
// The per-NAS provisioning script

export type ScriptService = 'hotspot' | 'ppp';

export interface MikrotikScriptInput {
  nas: {
    id: string;
    name: string;
    /** The address FreeRADIUS knows the router by (source address of its packets). */
    address: string;
    identifier: string | null;
    secret: string;
    coaPort: number;
    apiPort: number;
    apiTls: boolean;
    apiUsername: string | null;
  };
  tenant: { name: string; slug: string };
  /** Where the router sends Access/Accounting: an IP address or a DNS name. */
  radius: { server: string; authPort: number; acctPort: number; timeoutMs?: number };
  services: readonly ScriptService[];
  hotspotProfile: string;
  /** Captive portal host (name or IPv4) for the walled garden and the soft-block redirect. */
  portalHost: string | null;
}

/** RouterOS waits this long for FreeRADIUS. Its own default (300 ms in v7) is too short for a
 *  cloud FreeRADIUS behind SQL over a mobile backhaul; a late reply is a failed login. */
export const DEFAULT_RADIUS_TIMEOUT_MS = 3000;

export const SOFT_BLOCK_ADDRESS_LIST = 'lango-blocked';

/**
 * mikrotik/<name> in the repository: the first ancestor of this file's folder that holds it
 * (src/mikrotik under jest, dist/src/mikrotik after tsc).
 */
export function resolveMikrotikTemplate(name = 'lango.rsc.tmpl', from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, 'mikrotik', name);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no mikrotik/${name} found above ${from}`);
    dir = parent;
  }
}

let cachedTemplate: string | undefined;

/** The provisioning template, read once. */
export function loadMikrotikTemplate(): string {
  cachedTemplate ??= readFileSync(resolveMikrotikTemplate(), 'utf8');
  return cachedTemplate;
}

let cachedLoginHtml: string | undefined;

/**
 * mikrotik/hotspot/login.html for a tenant's portal: the router's login page as a redirect to
 * http://<portalHost>/portal/<slug>/hotspot (the hotspot simulator serves the same file).
 */
export function hotspotPortalUrl(portalHost: string, tenantSlug: string): string {
  return `http://${portalHost}/portal/${encodeURIComponent(tenantSlug)}/hotspot`;
}

export function hotspotLoginHtml(portalUrl: string): string {
  cachedLoginHtml ??= readFileSync(resolveMikrotikTemplate('hotspot/login.html'), 'utf8');
  const attr = portalUrl.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return cachedLoginHtml.replaceAll('LANGO_PORTAL_URL', attr);
}

/** The values the template sees. Exported so tests can check the template uses no others. */
export function mikrotikScriptData(input: MikrotikScriptInput): Record<string, TemplateValue> {
  const services = [...new Set(input.services)].sort();
  if (services.length === 0) throw new TypeError('at least one service (hotspot, ppp) is needed');
  const { nas } = input;
  return {
    nasId: nas.id,
    nasName: nas.name,
    nasAddress: nas.address,
    hasIdentifier: nas.identifier !== null,
    identifier: nas.identifier ?? '',
    tenantName: input.tenant.name,
    tenantSlug: input.tenant.slug,
    radiusServer: input.radius.server,
    radiusServerIsName: isIP(input.radius.server) === 0,
    authPort: input.radius.authPort,
    acctPort: input.radius.acctPort,
    radiusTimeoutMs: input.radius.timeoutMs ?? DEFAULT_RADIUS_TIMEOUT_MS,
    secret: nas.secret,
    radiusServices: services.join(','),
    coaPort: nas.coaPort,
    hotspot: services.includes('hotspot'),
    hotspotProfile: input.hotspotProfile,
    ppp: services.includes('ppp'),
    portal: input.portalHost !== null,
    portalHost: input.portalHost ?? '',
    portalIsName: input.portalHost !== null && isIP(input.portalHost) === 0,
    hotspotPortalUrl: input.portalHost !== null ? hotspotPortalUrl(input.portalHost, input.tenant.slug) : '',
    hotspotLoginHtml: input.portalHost !== null ? hotspotLoginHtml(hotspotPortalUrl(input.portalHost, input.tenant.slug)) : '',
    softBlockList: SOFT_BLOCK_ADDRESS_LIST,
    apiService: nas.apiTls ? 'api-ssl' : 'api',
    apiPort: nas.apiPort,
    apiUsername: nas.apiUsername ?? 'lango-api',
  };
}

/** The RouterOS script for one NAS (text/plain, LF line ends, ASCII only). */
export function renderMikrotikScript(input: MikrotikScriptInput, template: string = loadMikrotikTemplate()): string {
  return renderTemplate(template, mikrotikScriptData(input));
}
