// The issue lifecycle as the services state it (generated into lifecycle.json by scripts/openapi.sh).
import data from './generated/lifecycle.json'
import { zh } from '@/messages/zh-CN'

interface Lifecycle {
  statuses: { id: string; label_zh: string; closed: boolean }[]
  actions: { id: string; label_zh?: string }[]
  transitions: { action: string; from: string; to: string }[]
  closed: string[]
}

const lifecycle = data as Lifecycle

/** Every status in lifecycle order. */
export const statuses = lifecycle.statuses

/** The Chinese label of a status. */
export function statusLabel(status: string): string {
  return statuses.find((s) => s.id === status)?.label_zh ?? status
}

/** Signed off or filed. */
export function isClosed(status: string): boolean {
  return lifecycle.closed.includes(status)
}

/** The label of an action: the lifecycle's own when it has one, else the app's button text. */
export function actionLabel(action: string): string {
  return lifecycle.actions.find((a) => a.id === action)?.label_zh ?? zh.actions[action] ?? action
}

/** Whether the state machine allows `action` from `status`. */
export function allows(status: string, action: string): boolean {
  return lifecycle.transitions.some((t) => t.from === status && t.action === action)
}

/** The Element Plus tag type that colours a status. */
export function statusTone(status: string): 'info' | 'primary' | 'warning' | 'success' {
  if (isClosed(status)) return 'success'
  if (status === 'closure_requested') return 'warning'
  if (status === 'in_progress') return 'primary'
  return 'info'
}
