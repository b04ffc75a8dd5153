// Short messages after an action; errors use the same Chinese words as ErrorAlert.
import { ElMessage } from 'element-plus'
import { explain } from '@/api/errors'

/** Says that an action succeeded. */
export function done(text: string): void {
  ElMessage({ type: 'success', message: text, showClose: true })
}

/** Says in Chinese why an action failed and what to do. */
export function failed(error: unknown): void {
  const e = explain(error)
  ElMessage({ type: 'error', message: [e.title, e.hint, ...e.lines].join(' '), showClose: true, duration: 8000 })
}
