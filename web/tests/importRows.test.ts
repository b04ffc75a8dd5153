import { describe, expect, it } from 'vitest'
import { parseCsv, rowsWithErrors } from '@/issues/importRows'

describe('import errors on their rows', () => {
  it('parses quoted CSV with commas, quotes and newlines, and a BOM', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\n"multi\nline",z\n')).toEqual([['a', 'b'], ['x, y', 'say "hi"'], ['multi\nline', 'z']])
  })

  it('groups every bad cell under its row, with the row\'s values by column', () => {
    const csv = parseCsv('code,title,deadline\nA-1,好,2020-01-01\nA-2,坏,2020-13-01\n')
    const rows = rowsWithErrors([
      { row: 3, column: 'deadline', message: 'not a date (YYYY-MM-DD): 2020-13-01' },
      { row: 3, column: 'code', message: 'A-2 repeats row 2' },
      { row: null, column: null, message: 'the file is empty' },
    ], csv)
    expect(rows.map((r) => r.row)).toEqual([null, 3])
    expect(rows[1].cells).toEqual({ code: 'A-2', title: '坏', deadline: '2020-13-01' })
    expect(rows[1].bad).toEqual({ deadline: ['not a date (YYYY-MM-DD): 2020-13-01'], code: ['A-2 repeats row 2'] })
    expect(rows[0].general).toEqual(['the file is empty'])
  })

  it('still lists the cells of an XLSX (no parsed rows) by row and column', () => {
    const rows = rowsWithErrors([{ row: 5, column: 'region', message: 'unknown org mars' }], null)
    expect(rows).toEqual([{ row: 5, cells: {}, bad: { region: ['unknown org mars'] }, general: [] }])
  })
})
