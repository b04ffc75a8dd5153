// The scoring service: scores, published rankings, monitoring readings.
import type { paths } from '@/api/generated/scoring'
import type { Answer, BodyOf, Page, QueryOf, Untyped } from '@/api/types'
import { getJson, sendJson } from '@/api/http'
import { ApiError } from '@/api/errors'

type P = paths
export type RankingIn = BodyOf<P['/v1/rankings']['post']>
export type RankingFilters = QueryOf<P['/v1/rankings']['get']>
export type Ranking = Answer<P['/v1/rankings/{ranking_id}']['get']>
export type Scores = Answer<P['/v1/scores']['get']>

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

/** Readings of one indicator (city-wide), oldest first; null while the service offers no read route for them. */
export async function readings(indicator: string): Promise<Untyped[] | null> {
  try {
    const page = await getJson<Page<Untyped>>('/v1/readings', { indicator, limit: 500 })
    return page.items
  } catch (e) {
    // today the scoring service only accepts readings (POST): a GET answers 405
    if (e instanceof ApiError && (e.status === 405 || e.status === 404)) return null
    throw e
  }
}
