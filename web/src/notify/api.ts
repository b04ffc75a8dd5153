// The notify service: the inbox and the monthly bulletins.
import { ref } from 'vue'
import type { paths } from '@/api/generated/notify'
import type { Answer, Page } from '@/api/types'
import { getJson, objectUrl, sendJson } from '@/api/http'

type P = paths
export type InboxList = Answer<P['/v1/inbox']['get']>
export type InboxItem = InboxList['items'][number]
export type BulletinList = Answer<P['/v1/bulletins']['get']>
export type Bulletin = BulletinList['items'][number]

/** A page of the caller's org's notifications, newest first. */
export const listInbox = (unread: boolean, cursor: string | null, limit = 20): Promise<Page<InboxItem>> =>
  getJson('/v1/inbox', { unread: unread || undefined, cursor, limit })

/** Marks one notification read. */
export const markRead = (id: string): Promise<InboxItem> => sendJson('POST', `/v1/inbox/${encodeURIComponent(id)}/read`, {})

/** A page of monthly bulletins, newest first. */
export const listBulletins = (cursor: string | null, limit = 10): Promise<Page<Bulletin>> => getJson('/v1/bulletins', { cursor, limit })

/** A bulletin's HTML or XLSX as an object URL (needs the token). */
export const bulletinFile = (url: string): Promise<string> => objectUrl(url)

/** How many unread notices, counted on one small page: the API gives no count, so past UNREAD_CAP the badge says
 * "9+" (the inbox itself lists them all). */
export const unreadCount = ref<number | null>(null)
export const UNREAD_CAP = 9

/** Refreshes the unread count shown beside the menu (a page of UNREAD_CAP + 1: enough to tell "9+"). */
export async function refreshUnread(): Promise<void> {
  try {
    const page = await listInbox(true, null, UNREAD_CAP + 1)
    unreadCount.value = page.items.length
  } catch {
    unreadCount.value = null
  }
}
