// The verification service: evidence, sign-off applications, decisions, filing.
import type { paths } from '@/api/generated/verification'
import type { Answer, BodyOf, Page, QueryOf } from '@/api/types'
import { getJson, objectUrl, sendJson, upload } from '@/api/http'

type P = paths
export type ClosureFilters = QueryOf<P['/v1/closures']['get']>
export type ClosureIn = BodyOf<P['/v1/closures']['post']>
export type DecisionIn = BodyOf<P['/v1/closures/{closure_id}/decision']['post']>
export type ClosureList = Answer<P['/v1/closures']['get']>
export type Closure = ClosureList['items'][number]
export type ClosureDetail = Answer<P['/v1/closures/{closure_id}']['get']>
export type Evidence = Answer<P['/v1/evidence/{evidence_id}']['get']>

/** A page of sign-off applications the caller may see. */
export const listClosures = (filters: ClosureFilters, cursor: string | null, limit = 20): Promise<Page<Closure>> =>
  getJson('/v1/closures', { ...filters, cursor, limit })

/** One application with its decisions. */
export const readClosure = (id: string): Promise<ClosureDetail> => getJson(`/v1/closures/${encodeURIComponent(id)}`)

/** Applies for sign-off (responsible). */
export const applyForClosure = (body: ClosureIn): Promise<Closure> => sendJson('POST', '/v1/closures', body)

/** Accepts or rejects an application (supervisor). */
export const decideClosure = (id: string, body: DecisionIn): Promise<Closure> => sendJson('POST', `/v1/closures/${encodeURIComponent(id)}/decision`, body)

/** Files (备案) a signed-off closure (admin). */
export const fileClosure = (id: string): Promise<Closure> => sendJson('POST', `/v1/closures/${encodeURIComponent(id)}/file`, {})

export type FilingOut = Answer<P['/v1/closures/filings']['post']>

/** Files (备案) a signed-off issue by its id (admin): its accepted application, or a sign-off moved in by a
 * ledger import, which has no application here. */
export const fileIssue = (issueId: string): Promise<FilingOut> => sendJson('POST', '/v1/closures/filings', { issue_id: issueId })

/** A page of an issue's evidence. */
export const listEvidence = (issueId: string, cursor: string | null, limit = 20): Promise<Page<Evidence>> =>
  getJson('/v1/evidence', { issue_id: issueId, cursor, limit })

/** One piece of evidence's record. */
export const readEvidence = (id: string): Promise<Evidence> => getJson(`/v1/evidence/${encodeURIComponent(id)}`)

/** The evidence file as an object URL (the download needs the token, so an <img> cannot fetch it itself). */
export const evidenceUrl = (id: string): Promise<string> => objectUrl(`/v1/evidence/${encodeURIComponent(id)}/content`)

/** What an upload carries besides the file. */
export interface EvidenceFields {
  issue_id: string
  kind: 'photo' | 'document' | 'monitoring'
  captured_at?: string
  latitude?: number
  longitude?: number
  note?: string
  sha256?: string
}

/** Uploads one evidence file with progress. */
export function uploadEvidence(file: File, fields: EvidenceFields, onProgress: (p: number) => void): Promise<Evidence> {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') form.append(k, String(v))
  form.append('file', file)
  return upload('/v1/evidence', form, onProgress)
}

/** The file's SHA-256 in hex, so the service can refuse a file damaged on the way. */
export async function sha256Hex(file: Blob): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer())
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

export type SampleIn = BodyOf<P['/v1/samples']['post']>
export type SampleSummary = Answer<P['/v1/samples']['get']>['items'][number]
export type Sample = Answer<P['/v1/samples/{sample_id}']['get']>

/** Draws a random re-inspection sample (admin). */
export const drawSample = (body: SampleIn): Promise<Sample> => sendJson('POST', '/v1/samples', body)

/** A page of draws, newest first. */
export const listSamples = (cursor: string | null, limit = 20): Promise<Page<SampleSummary>> =>
  getJson('/v1/samples', { cursor, limit })

/** One draw with its tasks and their re-inspection outcomes. */
export const readSample = (id: string): Promise<Sample> => getJson(`/v1/samples/${encodeURIComponent(id)}`)
