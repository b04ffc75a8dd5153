// Appeals against a published ranking (申诉 / 复核): the scoring service's /v1/appeals.
import type { paths } from '@/api/generated/scoring'
import type { Answer, BodyOf, Page, QueryOf } from '@/api/types'
import { getJson, sendJson } from '@/api/http'

type P = paths
export type AppealIn = BodyOf<P['/v1/rankings/{ranking_id}/appeals']['post']>
export type AppealDecisionIn = BodyOf<P['/v1/appeals/{appeal_id}/decision']['post']>
export type AppealFilters = QueryOf<P['/v1/appeals']['get']>
export type Appeal = Answer<P['/v1/appeals/{appeal_id}']['get']>

/** A page of appeals, newest filing first (a unit sees only its own). */
export const listAppeals = (filters: AppealFilters, cursor: string | null, limit = 20): Promise<Page<Appeal>> =>
  getJson('/v1/appeals', { ...filters, cursor, limit })

/** A ranked unit appeals one component of its row (responsible). */
export const fileAppeal = (rankingId: string, body: AppealIn): Promise<Appeal> =>
  sendJson('POST', `/v1/rankings/${encodeURIComponent(rankingId)}/appeals`, body)

/** The inspection office decides an appeal (admin). */
export const decideAppeal = (appealId: string, body: AppealDecisionIn): Promise<Appeal> =>
  sendJson('POST', `/v1/appeals/${encodeURIComponent(appealId)}/decision`, body)
