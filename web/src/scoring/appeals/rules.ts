// What the appeal forms allow before asking the server (which checks it all again and names the field).
import type { Ranking } from '@/scoring/api'
import type { AppealDecisionIn, AppealIn } from './api'

export const COMPONENTS = ['on_time_closure', 'completion', 'quality', 'environment'] as const
export type Component = (typeof COMPONENTS)[number]
export const MAX_REASON = 2000
export const MAX_EVIDENCE = 20
const EVIDENCE_ID = /^[A-Za-z0-9_.-]{1,64}$/

/** Whether a unit may appeal this ranking from the page: it is ranked in it and nothing supersedes it. */
export function canAppeal(ranking: Pick<Ranking, 'rows' | 'superseded_by'>, org: string | null): boolean {
  return !!org && ranking.superseded_by === null && ranking.rows.some((r) => r.org_id === org)
}

/** The appeal's body from the form, or the name of the first field that is wrong. */
export function appealBody(form: { component: string; reason: string; evidence: string }): AppealIn | { field: string } {
  if (!(COMPONENTS as readonly string[]).includes(form.component)) return { field: 'component' }
  const reason = form.reason.trim()
  if (!reason || reason.length > MAX_REASON) return { field: 'reason' }
  const ids = form.evidence.split(/[\s,,]+/).filter(Boolean)
  if (ids.length > MAX_EVIDENCE || !ids.every((id) => EVIDENCE_ID.test(id))) return { field: 'evidence_ids' }
  return { component: form.component as Component, reason, evidence_ids: ids }
}

/** The decision's body from the form, or the first wrong field: a correction for (partly) upheld, none for refused. */
export function decisionBody(form: { outcome: string; reasons: string; values: Partial<Record<Component, number | null>> },
  disputed: string): AppealDecisionIn | { field: string } {
  if (!['upheld', 'partly_upheld', 'refused'].includes(form.outcome)) return { field: 'outcome' }
  const reasons = form.reasons.trim()
  if (!reasons || reasons.length > MAX_REASON) return { field: 'reasons' }
  const outcome = form.outcome as AppealDecisionIn['outcome']
  if (outcome === 'refused') return { outcome, reasons, correction: null }
  const correction: Partial<Record<Component, number>> = {}
  for (const c of COMPONENTS) {
    const v = form.values[c]
    if (v === null || v === undefined) continue
    if (!(v >= 0 && v <= 100)) return { field: `correction.${c}` }
    correction[c] = v
  }
  if (correction[disputed as Component] === undefined) return { field: `correction.${disputed}` }
  return { outcome, reasons, correction }
}
