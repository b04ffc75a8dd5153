// Each service's log and signed checkpoints, read as an auditor, and the checkpoint checked in the browser.
import { getJson } from '@/api/http'
import type { components } from '@/api/generated/issues'
import type { Page } from '@/api/types'

/** One entry of a service's log (every service serves the same shape). */
type LogItem = components['schemas']['LogItemOut']

export const SERVICES = ['issues', 'verification', 'scoring', 'notify'] as const
export type Service = (typeof SERVICES)[number]

/** A signed checkpoint as the service serves it. */
export type Checkpoint = components['schemas']['CheckpointOut']

/** The newest checkpoint, following the cursor to the last page. */
export async function lastCheckpoint(service: Service): Promise<Checkpoint | null> {
  let after = 0
  let last: Checkpoint | null = null
  for (let i = 0; i < 1000; i += 1) {
    const page = await getJson<Page<Checkpoint>>(`/v1/checkpoints/${service}`, { after, limit: 1000 })
    last = page.items.at(-1) ?? last
    if (!page.next_cursor) break
    after = Number(page.next_cursor)
  }
  return last
}

/** The log's size: the checkpoint's size plus the entries after it (read by cursor, ids only counted). */
export async function logSize(service: Service, from: number, onCount: (n: number) => void = () => {}): Promise<number> {
  let after = from
  for (let i = 0; i < 10_000; i += 1) {
    const page = await getJson<Page<LogItem>>(`/v1/logs/${service}`, { after, limit: 1000 })
    if (page.items.length) after = page.items[page.items.length - 1].position
    onCount(after)
    if (!page.next_cursor) break
  }
  return after
}

/** The running log hash at one position (what a checkpoint of that size signs). */
export async function rootAt(service: Service, size: number): Promise<string | null> {
  const page = await getJson<Page<LogItem>>(`/v1/logs/${service}`, { after: size - 1, limit: 1 })
  return page.items[0]?.position === size ? page.items[0].log_hash : null
}

/** The public key checkpoints are signed with (base64 raw Ed25519). */
export const publicKey = (service: Service): Promise<components['schemas']['PublicKeyOut']> => getJson(`/v1/checkpoints/${service}/public-key`)
