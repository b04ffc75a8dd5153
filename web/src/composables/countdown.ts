// Days left until a deadline. A deadline is a date and means the end of that day in Asia/Shanghai.
import { zh } from '@/messages/zh-CN'

const DAY = 86_400_000

/** Today's date in Asia/Shanghai as YYYY-MM-DD. */
export function shanghaiToday(now: Date = new Date()): string {
  return new Date(now.getTime() + 8 * 3600_000).toISOString().slice(0, 10)
}

/** Whole days from today (Shanghai) to the deadline: 0 on the day itself, negative when passed. */
export function daysLeft(deadline: string, now: Date = new Date()): number {
  return Math.round((Date.parse(`${deadline}T00:00:00Z`) - Date.parse(`${shanghaiToday(now)}T00:00:00Z`)) / DAY)
}

/** How a countdown is shown: its words and its tone. */
export interface Countdown {
  text: string
  tone: 'success' | 'info' | 'warning' | 'danger'
  days: number
}

/** The countdown of a task; a closed one shows as done whatever its deadline. */
export function countdown(deadline: string, closed: boolean, now: Date = new Date()): Countdown {
  const days = daysLeft(deadline, now)
  if (closed) return { text: zh.countdown.done, tone: 'success', days }
  if (days < 0) return { text: zh.countdown.late(-days), tone: 'danger', days }
  if (days === 0) return { text: zh.countdown.today, tone: 'danger', days }
  return { text: zh.countdown.left(days), tone: days <= 7 ? 'warning' : 'info', days }
}
