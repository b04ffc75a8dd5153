// List filters kept in the address (router query), so every figure can link to the list behind it.
import type { LocationQuery } from 'vue-router'
import type { IssueFilters } from './api'

const KEYS = ['status', 'category', 'region_id', 'responsible_org_id', 'supervising_org_id', 'round_id', 'q'] as const

/** The API filters a route query names (unknown keys and empty values are left out). */
export function filtersFromQuery(query: LocationQuery): IssueFilters {
  const out: Record<string, string | boolean> = {}
  for (const k of KEYS) {
    const v = query[k]
    if (typeof v === 'string' && v) out[k] = v
  }
  if (query.overdue === 'true') out.overdue = true
  if (query.overdue === 'false') out.overdue = false
  if (query.escalated === 'true') out.escalated = true
  return out as IssueFilters
}

/** The route query for a set of filters. */
export function queryFromFilters(f: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(f)) if (v !== undefined && v !== null && v !== '' && v !== false) out[k] = String(v)
  return out
}
