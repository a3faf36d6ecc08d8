import {
  ConninfoError,
  parsePostgresUrl,
  postgresUrlToConninfo,
  quoteConninfoValue,
} from '../../../src/freeradius/conninfo';
import path from 'node:path';
import {
  FreeRadiusOptionsError,
  renderClientsConf,
  resolveFreeRadiusSourceDir,
  validateClientNetwork,
} from '../../../src/freeradius';

describe('quoteConninfoValue', () => {
  it.each([
    ['plain', "'plain'"],
    ['', "''"],
    ["it's", "'it\\'s'"],
    ['back\\slash', "'back\\\\slash'"],
    ["\\'", "'\\\\\\''"],
    ['with space = and "', "'with space = and \"'"],
  ])('%j -> %s', (input, quoted) => {
    expect(quoteConninfoValue(input)).toBe(quoted);
  });
});

describe('postgresUrlToConninfo', () => {
  it('converts every part of a full URL', () => {
    expect(postgresUrlToConninfo('postgres://lango:secret@db.example:6543/lango?sslmode=require')).toBe(
      "host='db.example' port='6543' dbname='lango' user='lango' password='secret' sslmode='require'",
    );
  });

  it('accepts postgresql:// and leaves out what the URL does not give', () => {
    expect(postgresUrlToConninfo('postgresql://127.0.0.1/radius')).toBe("host='127.0.0.1' dbname='radius'");
    expect(postgresUrlToConninfo('postgres://postgres@127.0.0.1:5432/postgres')).toBe(
      "host='127.0.0.1' port='5432' dbname='postgres' user='postgres'",
    );
  });

  it('percent-decodes and escapes quotes and backslashes', () => {
    const password = "p@ss w'o\\rd:/?#%é";
    const url = `postgres://us%27er:${encodeURIComponent(password)}@h/d%20b`;
    expect(postgresUrlToConninfo(url)).toBe(
      "host='h' dbname='d b' user='us\\'er' password='p@ss w\\'o\\\\rd:/?#%é'",
    );
    expect(parsePostgresUrl(url).password).toBe(password);
  });

  it('keeps "+" in query values (libpq does not treat it as a space)', () => {
    expect(postgresUrlToConninfo('postgres://h/d?application_name=a+b&options=-c%20x%3D1')).toBe(
      "host='h' dbname='d' application_name='a+b' options='-c x=1'",
    );
  });

  it('strips IPv6 brackets and decodes a socket directory host', () => {
    expect(postgresUrlToConninfo('postgres://u@[::1]:5433/d')).toBe("host='::1' port='5433' dbname='d' user='u'");
    expect(postgresUrlToConninfo('postgres://%2Fvar%2Frun%2Fpostgresql/d')).toBe(
      "host='/var/run/postgresql' dbname='d'",
    );
    expect(postgresUrlToConninfo('postgres:///d?host=/tmp')).toBe("dbname='d' host='/tmp'");
  });

  it("translates node-pg's ssl and no-verify", () => {
    expect(postgresUrlToConninfo('postgres://h/d?ssl=true')).toBe("host='h' dbname='d' sslmode='require'");
    expect(postgresUrlToConninfo('postgres://h/d?ssl=false')).toBe("host='h' dbname='d' sslmode='disable'");
    expect(postgresUrlToConninfo('postgres://h/d?sslmode=no-verify')).toBe("host='h' dbname='d' sslmode='require'");
    expect(postgresUrlToConninfo('postgres://h/d?sslmode=verify-full&ssl=true')).toBe(
      "host='h' dbname='d' sslmode='verify-full'",
    );
  });

  it('refuses what libpq would not understand, without echoing the password', () => {
    expect(() => postgresUrlToConninfo('mysql://u:p@h/d')).toThrow(ConninfoError);
    expect(() => postgresUrlToConninfo('postgres://u:p@h/d?pool=5')).toThrow(/"pool" is not a libpq/);
    expect(() => postgresUrlToConninfo('postgres://h/d?host=a&host=b')).toThrow(/twice/);
    expect(() => postgresUrlToConninfo('postgres://h/d?ssl=maybe')).toThrow(ConninfoError);
    expect(() => postgresUrlToConninfo('postgres://u:topsecret@h:99999/d')).toThrow(ConninfoError);
    try {
      postgresUrlToConninfo('postgres://u:topsecret@h:99999/d');
    } catch (err) {
      expect((err as Error).message).not.toContain('topsecret');
    }
  });
});

describe('client networks', () => {
  it('accepts IPv4 and IPv6 networks', () => {
    expect(validateClientNetwork('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(validateClientNetwork(' 0.0.0.0/0 ')).toBe('0.0.0.0/0');
    expect(validateClientNetwork('fd00::/8')).toBe('fd00::/8');
  });

  it.each(['10.0.0.1/32', '::1/128'])('refuses the single address %s with a clear message', (cidr) => {
    expect(() => validateClientNetwork(cidr)).toThrow(FreeRadiusOptionsError);
    expect(() => validateClientNetwork(cidr)).toThrow(/single address/);
  });

  it.each(['10.0.0.0', '10.0.0.0/33', '300.0.0.0/8', 'example.com/24', '1.2.3/24', '10.0.0.0/8; secret = x', ''])(
    'refuses %j',
    (cidr) => {
      expect(() => validateClientNetwork(cidr)).toThrow(FreeRadiusOptionsError);
    },
  );

  it('renders one dynamic client per network', () => {
    const conf = renderClientsConf(['127.0.0.0/8', '192.168.88.0/24']);
    expect(conf).toContain('client lango-dynamic-0 {\n\tipaddr = 127.0.0.0/8\n\tdynamic_clients = lango_dynamic_clients\n');
    expect(conf).toContain('client lango-dynamic-1 {\n\tipaddr = 192.168.88.0/24\n');
    expect(conf.match(/lifetime = \$ENV\{LANGO_RADIUS_CLIENT_LIFETIME\}/g)).toHaveLength(2);
    expect(() => renderClientsConf([])).toThrow(FreeRadiusOptionsError);
  });
});

describe('resolveFreeRadiusSourceDir', () => {
  const repo = path.resolve(__dirname, '../../..');
  it('finds the overlay from src/ (jest) and from dist/src/ (after tsc)', () => {
    expect(resolveFreeRadiusSourceDir()).toBe(path.join(repo, 'freeradius'));
    expect(resolveFreeRadiusSourceDir(path.join(repo, 'dist', 'src', 'freeradius'))).toBe(path.join(repo, 'freeradius'));
    expect(() => resolveFreeRadiusSourceDir('/')).toThrow(FreeRadiusOptionsError);
  });
});
