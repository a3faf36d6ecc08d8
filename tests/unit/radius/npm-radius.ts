/**
 * Typed view of the npm `radius` 1.1.4 package (devDependency, no bundled types), used only as
 * an independent encoder/decoder in the golden tests. Not a test file itself.
 */
export type NpmAttributeList = ReadonlyArray<readonly [string, string | number | Buffer]>;

export interface NpmDecoded {
  code: string;
  identifier: number;
  length: number;
  authenticator: Buffer;
  attributes: Record<string, unknown>;
  raw_attributes: Array<[number, Buffer]>;
}

export interface NpmRadius {
  encode(args: {
    code: string;
    secret: string;
    identifier?: number;
    authenticator?: Buffer;
    attributes?: NpmAttributeList;
    add_message_authenticator?: boolean;
  }): Buffer;
  decode(args: { packet: Buffer; secret: string }): NpmDecoded;
  encode_response(args: { packet: NpmDecoded; code: string; secret: string; attributes?: NpmAttributeList }): Buffer;
  verify_response(args: { request: Buffer; response: Buffer; secret: string }): boolean;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const npmRadius = require('radius') as NpmRadius;
