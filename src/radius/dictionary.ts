/**
 * RADIUS attribute dictionary: name <-> (vendor, type) and data type, cross-checked against
 * FreeRADIUS 3.x share/dictionary.{rfc2865,rfc2866,rfc2869,rfc3162,rfc3576,rfc5176,mikrotik,wispr,microsoft}.
 * Only what Lango needs; unknown attributes are kept raw by the codec.
 */

export type AttributeDataType =
  'string' | 'octets' | 'integer' | 'integer64' | 'ipaddr' | 'ipv6addr' | 'ipv6prefix' | 'date';

export interface AttributeDef {
  readonly name: string;
  /** Attribute type; for a vendor attribute, the vendor-type. */
  readonly type: number;
  /** Vendor id (SMI enterprise number) for a Vendor-Specific sub-attribute. */
  readonly vendor?: number;
  readonly dataType: AttributeDataType;
  /** RFC 2865 §5.2 User-Password hiding (FreeRADIUS `encrypt=1`). */
  readonly encrypt?: 'user-password';
  /** Named integer values (first name wins when decoding). */
  readonly values?: Readonly<Record<string, number>>;
}

export interface VendorDef {
  readonly id: number;
  readonly name: string;
}

export interface Dictionary {
  /** Lower-cased name -> definition. */
  readonly byName: ReadonlyMap<string, AttributeDef>;
  /** `${vendor ?? 0}:${type}` -> definition. */
  readonly byCode: ReadonlyMap<string, AttributeDef>;
  readonly vendors: ReadonlyMap<number, VendorDef>;
  /** Lower-cased attribute name -> (value number -> canonical value name). */
  readonly valueNames: ReadonlyMap<string, ReadonlyMap<number, string>>;
}

export const VENDOR_MIKROTIK = 14988;
export const VENDOR_WISPR = 14122;
export const VENDOR_MICROSOFT = 311;

export const ATTR_VENDOR_SPECIFIC = 26;
export const ATTR_MESSAGE_AUTHENTICATOR = 80;

export const ACCT_STATUS_TYPE = {
  Start: 1,
  Stop: 2,
  'Interim-Update': 3,
  Alive: 3,
  'Accounting-On': 7,
  'Accounting-Off': 8,
  Failed: 15,
} as const;

export const ACCT_TERMINATE_CAUSE = {
  'User-Request': 1,
  'Lost-Carrier': 2,
  'Lost-Service': 3,
  'Idle-Timeout': 4,
  'Session-Timeout': 5,
  'Admin-Reset': 6,
  'Admin-Reboot': 7,
  'Port-Error': 8,
  'NAS-Error': 9,
  'NAS-Request': 10,
  'NAS-Reboot': 11,
  'Port-Unneeded': 12,
  'Port-Preempted': 13,
  'Port-Suspended': 14,
  'Service-Unavailable': 15,
  Callback: 16,
  'User-Error': 17,
  'Host-Request': 18,
} as const;

/** RFC 5176 §3.5 Error-Cause; names as in FreeRADIUS dictionary.rfc3576/rfc5176. */
export const ERROR_CAUSE = {
  'Residual-Context-Removed': 201,
  'Invalid-EAP-Packet': 202,
  'Unsupported-Attribute': 401,
  'Missing-Attribute': 402,
  'NAS-Identification-Mismatch': 403,
  'Invalid-Request': 404,
  'Unsupported-Service': 405,
  'Unsupported-Extension': 406,
  'Invalid-Attribute-Value': 407,
  'Administratively-Prohibited': 501,
  'Proxy-Request-Not-Routable': 502,
  'Session-Context-Not-Found': 503,
  'Session-Context-Not-Removable': 504,
  'Proxy-Processing-Error': 505,
  'Resources-Unavailable': 506,
  'Request-Initiated': 507,
  'Multiple-Session-Selection-Unsupported': 508,
} as const;

export const SERVICE_TYPE = {
  'Login-User': 1,
  'Framed-User': 2,
  'Callback-Login-User': 3,
  'Callback-Framed-User': 4,
  'Outbound-User': 5,
  'Administrative-User': 6,
  'NAS-Prompt-User': 7,
  'Authenticate-Only': 8,
  'Callback-NAS-Prompt': 9,
  'Call-Check': 10,
  'Callback-Administrative': 11,
  'Authorize-Only': 17,
} as const;

export const NAS_PORT_TYPE = {
  Async: 0,
  Sync: 1,
  ISDN: 2,
  'ISDN-V120': 3,
  'ISDN-V110': 4,
  Virtual: 5,
  PIAFS: 6,
  'HDLC-Clear-Channel': 7,
  'X.25': 8,
  'X.75': 9,
  'G.3-Fax': 10,
  SDSL: 11,
  'ADSL-CAP': 12,
  'ADSL-DMT': 13,
  IDSL: 14,
  Ethernet: 15,
  xDSL: 16,
  Cable: 17,
  'Wireless-Other': 18,
  'Wireless-802.11': 19,
} as const;

const FRAMED_PROTOCOL = {
  PPP: 1,
  SLIP: 2,
  ARAP: 3,
  'Gandalf-SLML': 4,
  'Xylogics-IPX-SLIP': 5,
  'X.75-Synchronous': 6,
} as const;
const ACCT_AUTHENTIC = { RADIUS: 1, Local: 2, Remote: 3, Diameter: 4 } as const;

const std = (
  name: string,
  type: number,
  dataType: AttributeDataType,
  extra: Pick<AttributeDef, 'encrypt' | 'values'> = {},
): AttributeDef => ({ name, type, dataType, ...extra });

const vsa = (vendor: number, name: string, type: number, dataType: AttributeDataType): AttributeDef => ({
  name,
  type,
  vendor,
  dataType,
});

export const STANDARD_ATTRIBUTES: readonly AttributeDef[] = [
  // RFC 2865
  std('User-Name', 1, 'string'),
  std('User-Password', 2, 'string', { encrypt: 'user-password' }),
  std('CHAP-Password', 3, 'octets'),
  std('NAS-IP-Address', 4, 'ipaddr'),
  std('NAS-Port', 5, 'integer'),
  std('Service-Type', 6, 'integer', { values: SERVICE_TYPE }),
  std('Framed-Protocol', 7, 'integer', { values: FRAMED_PROTOCOL }),
  std('Framed-IP-Address', 8, 'ipaddr'),
  std('Framed-IP-Netmask', 9, 'ipaddr'),
  std('Filter-Id', 11, 'string'),
  std('Framed-MTU', 12, 'integer'),
  std('Reply-Message', 18, 'string'),
  std('Framed-Route', 22, 'string'),
  std('State', 24, 'octets'),
  std('Class', 25, 'octets'),
  std('Vendor-Specific', 26, 'octets'),
  std('Session-Timeout', 27, 'integer'),
  std('Idle-Timeout', 28, 'integer'),
  std('Termination-Action', 29, 'integer'),
  std('Called-Station-Id', 30, 'string'),
  std('Calling-Station-Id', 31, 'string'),
  std('NAS-Identifier', 32, 'string'),
  std('Proxy-State', 33, 'octets'),
  std('CHAP-Challenge', 60, 'octets'),
  std('NAS-Port-Type', 61, 'integer', { values: NAS_PORT_TYPE }),
  std('Port-Limit', 62, 'integer'),
  // RFC 2866
  std('Acct-Status-Type', 40, 'integer', { values: ACCT_STATUS_TYPE }),
  std('Acct-Delay-Time', 41, 'integer'),
  std('Acct-Input-Octets', 42, 'integer'),
  std('Acct-Output-Octets', 43, 'integer'),
  std('Acct-Session-Id', 44, 'string'),
  std('Acct-Authentic', 45, 'integer', { values: ACCT_AUTHENTIC }),
  std('Acct-Session-Time', 46, 'integer'),
  std('Acct-Input-Packets', 47, 'integer'),
  std('Acct-Output-Packets', 48, 'integer'),
  std('Acct-Terminate-Cause', 49, 'integer', { values: ACCT_TERMINATE_CAUSE }),
  std('Acct-Multi-Session-Id', 50, 'string'),
  std('Acct-Link-Count', 51, 'integer'),
  // RFC 2869
  std('Acct-Input-Gigawords', 52, 'integer'),
  std('Acct-Output-Gigawords', 53, 'integer'),
  std('Event-Timestamp', 55, 'date'),
  std('Connect-Info', 77, 'string'),
  std('EAP-Message', 79, 'octets'),
  std('Message-Authenticator', 80, 'octets'),
  std('Acct-Interim-Interval', 85, 'integer'),
  std('NAS-Port-Id', 87, 'string'),
  std('Framed-Pool', 88, 'string'),
  // RFC 4372
  std('Chargeable-User-Identity', 89, 'octets'),
  // RFC 3162
  std('NAS-IPv6-Address', 95, 'ipv6addr'),
  std('Framed-IPv6-Prefix', 97, 'ipv6prefix'),
  std('Login-IPv6-Host', 98, 'ipv6addr'),
  std('Framed-IPv6-Route', 99, 'string'),
  std('Framed-IPv6-Pool', 100, 'string'),
  // RFC 3576 / 5176
  std('Error-Cause', 101, 'integer', { values: ERROR_CAUSE }),
  // RFC 4818 / 6911
  std('Delegated-IPv6-Prefix', 123, 'ipv6prefix'),
  std('Framed-IPv6-Address', 168, 'ipv6addr'),
  std('DNS-Server-IPv6-Address', 169, 'ipv6addr'),
  std('Delegated-IPv6-Prefix-Pool', 171, 'string'),
];

const mt = (name: string, type: number, dataType: AttributeDataType): AttributeDef =>
  vsa(VENDOR_MIKROTIK, name, type, dataType);

export const MIKROTIK_ATTRIBUTES: readonly AttributeDef[] = [
  mt('Mikrotik-Recv-Limit', 1, 'integer'),
  mt('Mikrotik-Xmit-Limit', 2, 'integer'),
  mt('Mikrotik-Group', 3, 'string'),
  mt('Mikrotik-Wireless-Forward', 4, 'integer'),
  mt('Mikrotik-Wireless-Skip-Dot1x', 5, 'integer'),
  mt('Mikrotik-Wireless-Enc-Algo', 6, 'integer'),
  mt('Mikrotik-Wireless-Enc-Key', 7, 'string'),
  mt('Mikrotik-Rate-Limit', 8, 'string'),
  mt('Mikrotik-Realm', 9, 'string'),
  mt('Mikrotik-Host-IP', 10, 'ipaddr'),
  mt('Mikrotik-Mark-Id', 11, 'string'),
  mt('Mikrotik-Advertise-URL', 12, 'string'),
  mt('Mikrotik-Advertise-Interval', 13, 'integer'),
  mt('Mikrotik-Recv-Limit-Gigawords', 14, 'integer'),
  mt('Mikrotik-Xmit-Limit-Gigawords', 15, 'integer'),
  mt('Mikrotik-Wireless-PSK', 16, 'string'),
  mt('Mikrotik-Total-Limit', 17, 'integer'),
  mt('Mikrotik-Total-Limit-Gigawords', 18, 'integer'),
  mt('Mikrotik-Address-List', 19, 'string'),
  mt('Mikrotik-Wireless-MPKey', 20, 'string'),
  mt('Mikrotik-Wireless-Comment', 21, 'string'),
  mt('Mikrotik-Delegated-IPv6-Pool', 22, 'string'),
  mt('Mikrotik-DHCP-Option-Set', 23, 'string'),
  mt('Mikrotik-DHCP-Option-Param-STR1', 24, 'string'),
  mt('Mikrotik-DHCP-Option-Param-STR2', 25, 'string'),
  mt('Mikrotik-Wireless-VLANID', 26, 'integer'),
  mt('Mikrotik-Wireless-VLANID-Type', 27, 'integer'),
  mt('Mikrotik-Wireless-Minsignal', 28, 'string'),
  mt('Mikrotik-Wireless-Maxsignal', 29, 'string'),
  mt('Mikrotik-Switching-Filter', 30, 'string'),
];

const wispr = (name: string, type: number, dataType: AttributeDataType): AttributeDef =>
  vsa(VENDOR_WISPR, name, type, dataType);

export const WISPR_ATTRIBUTES: readonly AttributeDef[] = [
  wispr('WISPr-Location-ID', 1, 'string'),
  wispr('WISPr-Location-Name', 2, 'string'),
  wispr('WISPr-Logoff-URL', 3, 'string'),
  wispr('WISPr-Redirection-URL', 4, 'string'),
  wispr('WISPr-Bandwidth-Min-Up', 5, 'integer'),
  wispr('WISPr-Bandwidth-Min-Down', 6, 'integer'),
  wispr('WISPr-Bandwidth-Max-Up', 7, 'integer'),
  wispr('WISPr-Bandwidth-Max-Down', 8, 'integer'),
  wispr('WISPr-Session-Terminate-Time', 9, 'string'),
  wispr('WISPr-Session-Terminate-End-Of-Day', 10, 'string'),
  wispr('WISPr-Billing-Class-Of-Service', 11, 'string'),
];

const ms = (name: string, type: number, dataType: AttributeDataType): AttributeDef =>
  vsa(VENDOR_MICROSOFT, name, type, dataType);

/** MS-MPPE-Send/Recv-Key are salt-encrypted (encrypt=2); they are exposed as the encrypted octets. */
export const MICROSOFT_ATTRIBUTES: readonly AttributeDef[] = [
  ms('MS-CHAP-Response', 1, 'octets'),
  ms('MS-CHAP-Error', 2, 'string'),
  ms('MS-CHAP-CPW-1', 3, 'octets'),
  ms('MS-CHAP-CPW-2', 4, 'octets'),
  ms('MS-CHAP-LM-Enc-PW', 5, 'octets'),
  ms('MS-CHAP-NT-Enc-PW', 6, 'octets'),
  ms('MS-MPPE-Encryption-Policy', 7, 'integer'),
  ms('MS-MPPE-Encryption-Types', 8, 'integer'),
  ms('MS-RAS-Vendor', 9, 'integer'),
  ms('MS-CHAP-Domain', 10, 'string'),
  ms('MS-CHAP-Challenge', 11, 'octets'),
  ms('MS-CHAP-MPPE-Keys', 12, 'octets'),
  ms('MS-MPPE-Send-Key', 16, 'octets'),
  ms('MS-MPPE-Recv-Key', 17, 'octets'),
  ms('MS-RAS-Version', 18, 'string'),
  ms('MS-CHAP2-Response', 25, 'octets'),
  ms('MS-CHAP2-Success', 26, 'octets'),
  ms('MS-CHAP2-CPW', 27, 'octets'),
  ms('MS-Primary-DNS-Server', 28, 'ipaddr'),
  ms('MS-Secondary-DNS-Server', 29, 'ipaddr'),
];

export const DEFAULT_VENDORS: readonly VendorDef[] = [
  { id: VENDOR_MIKROTIK, name: 'Mikrotik' },
  { id: VENDOR_WISPR, name: 'WISPr' },
  { id: VENDOR_MICROSOFT, name: 'Microsoft' },
];

export function codeKey(type: number, vendor?: number): string {
  return `${vendor ?? 0}:${type}`;
}

/** Build lookup tables; later definitions with an already used name or code are rejected. */
export function createDictionary(attributes: readonly AttributeDef[], vendors: readonly VendorDef[]): Dictionary {
  const byName = new Map<string, AttributeDef>();
  const byCode = new Map<string, AttributeDef>();
  const valueNames = new Map<string, Map<number, string>>();
  const vendorMap = new Map<number, VendorDef>(vendors.map((v) => [v.id, v]));
  for (const def of attributes) {
    const lname = def.name.toLowerCase();
    const key = codeKey(def.type, def.vendor);
    if (byName.has(lname)) throw new Error(`duplicate attribute name ${def.name}`);
    if (byCode.has(key)) throw new Error(`duplicate attribute code ${key} (${def.name})`);
    if (def.vendor !== undefined && !vendorMap.has(def.vendor)) throw new Error(`unknown vendor ${def.vendor}`);
    if (def.type < 1 || def.type > 255 || !Number.isInteger(def.type)) throw new Error(`bad type for ${def.name}`);
    byName.set(lname, def);
    byCode.set(key, def);
    if (def.values) {
      const names = new Map<number, string>();
      for (const [valueName, n] of Object.entries(def.values)) if (!names.has(n)) names.set(n, valueName);
      valueNames.set(lname, names);
    }
  }
  return { byName, byCode, vendors: vendorMap, valueNames };
}

export const DEFAULT_DICTIONARY: Dictionary = createDictionary(
  [...STANDARD_ATTRIBUTES, ...MIKROTIK_ATTRIBUTES, ...WISPR_ATTRIBUTES, ...MICROSOFT_ATTRIBUTES],
  DEFAULT_VENDORS,
);

/** Case-insensitive lookup by name. */
export function findAttribute(name: string, dict: Dictionary = DEFAULT_DICTIONARY): AttributeDef | undefined {
  return dict.byName.get(name.toLowerCase());
}

export function findAttributeByCode(
  type: number,
  vendor?: number,
  dict: Dictionary = DEFAULT_DICTIONARY,
): AttributeDef | undefined {
  return dict.byCode.get(codeKey(type, vendor));
}

/** Named value -> number, e.g. ('Acct-Status-Type', 'Interim-Update') -> 3. Case-insensitive. */
export function attributeValueCode(
  attrName: string,
  valueName: string,
  dict: Dictionary = DEFAULT_DICTIONARY,
): number | undefined {
  const values = findAttribute(attrName, dict)?.values;
  if (!values) return undefined;
  const wanted = valueName.toLowerCase();
  for (const [name, n] of Object.entries(values)) if (name.toLowerCase() === wanted) return n;
  return undefined;
}

/** Number -> canonical value name, e.g. ('Error-Cause', 503) -> 'Session-Context-Not-Found'. */
export function attributeValueName(
  attrName: string,
  value: number,
  dict: Dictionary = DEFAULT_DICTIONARY,
): string | undefined {
  return dict.valueNames.get(attrName.toLowerCase())?.get(value);
}
