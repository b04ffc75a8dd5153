// The scoring service: scores, published rankings, monitoring readings.
import type { paths } from '@/api/generated/scoring'
import type { Answer, BodyOf, Page, QueryOf } from '@/api/types'
import { download, getJson, sendJson } from '@/api/http'

type P = paths
export type RankingIn = BodyOf<P['/v1/rankings']['post']>
export type RankingFilters = QueryOf<P['/v1/rankings']['get']>
export type Ranking = Answer<P['/v1/rankings/{ranking_id}']['get']>
export type Scores = Answer<P['/v1/scores']['get']>
export type ReadingFilters = QueryOf<P['/v1/readings']['get']>
export type Reading = Answer<P['/v1/readings']['get']>['items'][number]

/** A page of published rankings, newest first. */
export const listRankings = (filters: RankingFilters, cursor: string | null, limit = 20): Promise<Page<Ranking>> =>
  getJson('/v1/rankings', { ...filters, cursor, limit })

/** Publishes (freezes) a ranking (admin). */
export const publishRanking = (body: RankingIn): Promise<Ranking> => sendJson('POST', '/v1/rankings', body)

/** The newest current ranking of a kind, or null when none was published. */
export async function latestRanking(kind: 'region' | 'department'): Promise<Ranking | null> {
  const page = await listRankings({ kind, current: true }, null, 1)
  return page.items[0] ?? null
}

/** Readings of one indicator, oldest first, read through the cursor (a monthly series: a few pages at most). */
export async function readings(filters: ReadingFilters, maxPages = 10): Promise<Reading[]> {
  const items: Reading[] = []
  let cursor: string | null = null
  for (let i = 0; i < maxPages; i += 1) {
    const page: Page<Reading> = await getJson('/v1/readings', { ...filters, cursor, limit: 500 })
    items.push(...page.items)
    if (!page.next_cursor) break
    cursor = page.next_cursor
  }
  return items
}

export type ClueFilters = QueryOf<P['/v1/accountability/clues']['get']>
export type Clues = Answer<P['/v1/accountability/clues']['get']>
export type Clue = Clues['items'][number]

/** A page of accountability clues (admin, leader). */
export const listClues = (filters: ClueFilters, cursor: string | null, limit = 50): Promise<Clues> =>
  getJson('/v1/accountability/clues', { ...filters, cursor, limit })

/** The clues as an XLSX workbook, downloaded. */
export const exportClues = (filters: ClueFilters, onBytes: (n: number) => void): Promise<void> =>
  download('/v1/accountability/clues/export', filters as Record<string, string>, 'accountability-clues.xlsx', onBytes)
