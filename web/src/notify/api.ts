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

export type UnreadCount = Answer<P['/v1/inbox/unread-count']['get']>

/** How many of the caller's org's notices are unread: the exact count (null until known, or when it failed). */
export const unreadCount = ref<number | null>(null)
/** The desktop badge says "99+" past this; the phone's drawer and the inbox give the exact number. */
export const BADGE_MAX = 99

/** The exact unread count of the caller's org (one COUNT on the server). */
export const getUnreadCount = (): Promise<UnreadCount> => getJson('/v1/inbox/unread-count')

/** Refreshes the unread count shown beside the menu. */
export async function refreshUnread(): Promise<void> {
  try {
    unreadCount.value = (await getUnreadCount()).unread
  } catch {
    unreadCount.value = null
  }
}
