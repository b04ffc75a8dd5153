// What the cockpit reads from the services, asked for as soon as the route is chosen: the router starts it beside
// the page's own chunk (and ECharts), so the data is not waiting for the page's JavaScript to arrive and run.
import { summariseIssues, type IssueSummary } from '@/issues/api'
import { latestRanking, readings, type Ranking, type Reading } from '@/scoring/api'
import { loadOrgs } from '@/ui/orgs'

/** The plan's headline environmental targets, drawn against the goal the ledger gives them (责任制). */
export const HEADLINE = ['pm25_annual_mean', 'good_air_days_ratio', 'yellow_river_good_water_ratio'] as const

/** What the cockpit draws, as two answers: the counts (with the org names they need) and the charts' extras. */
export interface CockpitData {
  /** the service's counts, once the orgs that name them are known too */
  summary: Promise<IssueSummary>
  /** the latest published district ranking (null when none is published or it could not be read), and the
   * readings of each HEADLINE indicator in its order (empty when there are none or they could not be read) */
  extras: Promise<{ ranking: Ranking | null; series: Reading[][] }>
}

/** One read of the cockpit's data: every request at once, the summary first (it fills the top of the page). */
export function fetchCockpit(): CockpitData {
  const counts = summariseIssues()
  const extras = Promise.all([
    latestRanking('region').catch(() => null),
    Promise.all(HEADLINE.map((indicator) => readings({ indicator }).catch(() => [] as Reading[]))),
  ]).then(([ranking, series]) => ({ ranking, series }))
  const summary = Promise.all([counts, loadOrgs()]).then(([s]) => s)
  // a failed summary is reported by the page when it takes the answer, never as an unhandled rejection
  summary.catch(() => undefined)
  return { summary, extras }
}

let early: CockpitData | null = null

/** Starts reading the cockpit's data before its page has loaded (the router calls it when it picks the route). */
export function prefetchCockpit(): void {
  early ??= fetchCockpit()
}

/** The data read early when there is one not yet taken, else a fresh read (a retry, a second visit). */
export function takeCockpit(): CockpitData {
  const answer = early ?? fetchCockpit()
  early = null
  return answer
}
