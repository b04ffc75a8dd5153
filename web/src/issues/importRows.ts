// Per-cell import errors grouped by the spreadsheet row they belong to, with that row's cells when the file is CSV.
import type { ErrorDetail } from '@/api/errors'

/** One row that has errors: its number (header = 1), its cells if known, and the message of each bad column. */
export interface RowWithErrors {
  row: number | null
  cells: Record<string, string>
  bad: Record<string, string[]>
  general: string[]
}

/** Parses CSV text (RFC 4180 quoting) into rows of strings. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  const t = text.replace(/^\uFEFF/, '')
  for (let i = 0; i < t.length; i += 1) {
    const ch = t[i]
    if (quoted) {
      if (ch === '"' && t[i + 1] === '"') { cell += '"'; i += 1 } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(cell); cell = '' }
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && t[i + 1] === '\n') i += 1
      row.push(cell); rows.push(row); row = []; cell = ''
    } else cell += ch
  }
  if (cell || row.length) { row.push(cell); rows.push(row) }
  return rows
}

/** Groups the error details by row, attaching the row's cells (by header name) when the CSV rows are given. */
export function rowsWithErrors(details: ErrorDetail[], csv: string[][] | null): RowWithErrors[] {
  const header = csv?.[0] ?? []
  const byRow = new Map<number | null, RowWithErrors>()
  for (const d of details) {
    const key = d.row ?? null
    let entry = byRow.get(key)
    if (!entry) {
      const values = key !== null && csv ? csv[key - 1] ?? [] : []
      entry = { row: key, cells: Object.fromEntries(header.map((h, i) => [h, values[i] ?? ''])), bad: {}, general: [] }
      byRow.set(key, entry)
    }
    if (d.column) (entry.bad[d.column] ??= []).push(d.message)
    else entry.general.push(d.message)
  }
  return [...byRow.values()].sort((a, b) => (a.row ?? 0) - (b.row ?? 0))
}
