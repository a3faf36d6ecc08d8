import { csvCell, toCsv } from '../../../src/lib/csv';

describe('CSV for spreadsheets', () => {
  it.each([
    ['=HYPERLINK("http://x","y")', `"'=HYPERLINK(""http://x"",""y"")"`],
    ['+1234', "'+1234"],
    ['-2+3', "'-2+3"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ['\tcmd', "'\tcmd"],
    ['\rcmd', `"'\rcmd"`],
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['line\nbreak', '"line\nbreak"'],
    [' padded ', '" padded "'],
  ])('text %j is written %j', (input, out) => {
    expect(csvCell(input)).toBe(out);
  });

  it('numbers, booleans and nulls as they are (a negative number is not a formula)', () => {
    expect(csvCell(-5)).toBe('-5');
    expect(csvCell(1.5)).toBe('1.5');
    expect(csvCell(true)).toBe('true');
    expect(csvCell(null)).toBe('');
    expect(csvCell(Number.NaN)).toBe('');
  });

  it('a header and CRLF lines', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          { a: 1, b: '=x' },
          { a: null, b: 'y' },
        ],
      ),
    ).toBe("a,b\r\n1,'=x\r\n,y\r\n");
  });
});
