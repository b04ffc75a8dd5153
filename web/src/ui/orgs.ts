// Org names for ids, loaded once per visit.
import { ref } from 'vue'
import { allOrgs, type Org } from '@/issues/api'
import { zh } from '@/messages/zh-CN'

export const orgs = ref<Org[]>([])
const names = ref<Record<string, string>>({})

/** Loads the orgs once (quietly: names fall back to ids). */
export async function loadOrgs(): Promise<void> {
  if (orgs.value.length) return
  try {
    orgs.value = await allOrgs()
    names.value = Object.fromEntries(orgs.value.map((o: Org) => [o.id, o.name]))
  } catch { /* shown as ids */ }
}

/** An org's name, or its id when unknown. */
export function orgName(id: string | null | undefined): string {
  if (!id) return ''
  return names.value[id] ?? (orgs.value.length ? zh.common.unknownOrg(id) : id)
}
