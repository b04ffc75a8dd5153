// The issues service: orgs, rounds, the ledger, a task's moves, extensions. Types from its OpenAPI.
import type { paths } from '@/api/generated/issues'
import type { Answer, BodyOf, Page, QueryOf } from '@/api/types'
import { download, getJson, sendJson, upload } from '@/api/http'
import { walkPages } from '@/composables/usePagination'

type P = paths
export type IssueFilters = QueryOf<P['/v1/issues']['get']>
export type IssueIn = BodyOf<P['/v1/issues']['post']>
export type IssuePatch = BodyOf<P['/v1/issues/{issue_id}']['patch']>
export type ProgressIn = BodyOf<P['/v1/issues/{issue_id}/progress']['post']>
export type ExtensionIn = BodyOf<P['/v1/issues/{issue_id}/extensions']['post']>
export type ExtensionDecisionIn = BodyOf<P['/v1/issues/{issue_id}/extensions/{extension_id}/decision']['post']>
export type IssueList = Answer<P['/v1/issues']['get']>
/** The cockpit's figures, counted by the service. */
export type IssueSummary = Answer<P['/v1/issues/summary']['get']>
export type IssueDetail = Answer<P['/v1/issues/{issue_id}']['get']>
/** One issue of a list page. */
export type Issue = IssueList['items'][number]
export type Org = Answer<P['/v1/orgs/{org_id}']['get']>
export type ImportAnswer = Answer<P['/v1/issues/import']['post']>
export type Round = Answer<P['/v1/rounds/{round_id}']['get']>
export type Extension = Answer<P['/v1/issues/{issue_id}/extensions']['post']>
export type Milestone = IssueDetail['milestones'] extends (infer M)[] | undefined ? M : never
export type MilestoneReportIn = BodyOf<P['/v1/issues/{issue_id}/milestones/{milestone_id}/report']['post']>
export type MilestoneReviewIn = BodyOf<P['/v1/issues/{issue_id}/milestones/{milestone_id}/review']['post']>

/** A page of the issues the caller may see. */
export const listIssues = (filters: IssueFilters, cursor: string | null, limit = 20): Promise<Page<Issue>> =>
  getJson('/v1/issues', { ...filters, cursor, limit })

/** The cockpit's figures over the issues the caller may see (one request, counted by the service). */
export const summariseIssues = (filters: IssueFilters = {}): Promise<IssueSummary> => getJson('/v1/issues/summary', filters)

/** One issue with its history and extension requests. */
export const readIssue = (id: string): Promise<IssueDetail> => getJson(`/v1/issues/${encodeURIComponent(id)}`)

/** Registers a ledger item (admin). */
export const createIssue = (body: IssueIn): Promise<Issue> => sendJson('POST', '/v1/issues', body)

/** Reassigns or edits an issue (admin). */
export const patchIssue = (id: string, body: IssuePatch): Promise<Issue> => sendJson('PATCH', `/v1/issues/${encodeURIComponent(id)}`, body)

/** registered → in_progress (responsible). */
export const startIssue = (id: string): Promise<Issue> => sendJson('POST', `/v1/issues/${encodeURIComponent(id)}/start`, {})

/** Reports progress (responsible). */
export const reportProgress = (id: string, body: ProgressIn): Promise<Issue> => sendJson('POST', `/v1/issues/${encodeURIComponent(id)}/progress`, body)

/** Asks for a later deadline (responsible). */
export const requestExtension = (id: string, body: ExtensionIn): Promise<Extension> => sendJson('POST', `/v1/issues/${encodeURIComponent(id)}/extensions`, body)

/** Decides an extension request (admin). */
export const decideExtension = (id: string, ext: string, body: ExtensionDecisionIn): Promise<Extension> =>
  sendJson('POST', `/v1/issues/${encodeURIComponent(id)}/extensions/${encodeURIComponent(ext)}/decision`, body)

const milestonePath = (id: string, mid: string, what: string): string =>
  `/v1/issues/${encodeURIComponent(id)}/milestones/${encodeURIComponent(mid)}/${what}`

/** Reports a milestone met or missed (the task's lead responsible org). */
export const reportMilestone = (id: string, mid: string, body: MilestoneReportIn): Promise<Milestone> =>
  sendJson('POST', milestonePath(id, mid, 'report'), body)

/** Confirms or disputes a milestone report (the task's supervising org). */
export const reviewMilestone = (id: string, mid: string, body: MilestoneReviewIn): Promise<Milestone> =>
  sendJson('POST', milestonePath(id, mid, 'review'), body)

/** Imports a CSV or XLSX ledger, all rows or none, with upload progress (admin). */
export function importLedger(file: File, onProgress: (p: number) => void): Promise<ImportAnswer> {
  const form = new FormData()
  form.append('file', file)
  return upload('/v1/issues/import', form, onProgress)
}

/** Downloads the 台账 as XLSX with the list's filters. */
export const exportLedger = (filters: IssueFilters, onBytes: (n: number) => void): Promise<void> =>
  download('/v1/issues/export', filters as Record<string, string>, 'ledger.xlsx', onBytes)

let orgsOnce: Promise<Org[]> | null = null

/** Every org (reference data of a few dozen rows), read through the cursor once per visit. */
export function allOrgs(): Promise<Org[]> {
  orgsOnce ??= walkPages<Org>((cursor) => getJson('/v1/orgs', { cursor, limit: 1000 })).catch((e) => { orgsOnce = null; throw e })
  return orgsOnce
}

/** Every inspection round. */
export const allRounds = (): Promise<Round[]> => walkPages<Round>((cursor) => getJson('/v1/rounds', { cursor, limit: 1000 }))
