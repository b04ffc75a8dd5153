// The public view of the issues service: no token.
import type { paths } from '@/api/generated/issues'
import type { Answer, Page, QueryOf } from '@/api/types'
import { getJson } from '@/api/http'

type P = paths
export type PublicFilters = QueryOf<P['/v1/public/issues']['get']>
export type PublicList = Answer<P['/v1/public/issues']['get']>
export type PublicIssue = PublicList['items'][number]

/** A page of published findings. */
export const listPublic = (filters: PublicFilters, cursor: string | null, limit = 20): Promise<Page<PublicIssue>> =>
  getJson('/v1/public/issues', { ...filters, cursor, limit })
export type PublicSummary = Answer<P['/v1/public/issues/summary']['get']>

/** The published findings counted by status, category and district (one request). */
export const publicSummary = (): Promise<PublicSummary> => getJson('/v1/public/issues/summary')
