// The one mapping from an API error (the design's error shape) or a network failure to Chinese words.
import { zh } from '@/messages/zh-CN'

/** One entry of the error shape's `details`. */
export interface ErrorDetail {
  field?: string | null
  row?: number | null
  column?: string | null
  message: string
}

/** A refused request: its HTTP status (0 when the server could not be reached) and the error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** What the person is told: a title, what to do, and one line per detail. */
export interface Explained {
  title: string
  hint: string
  lines: string[]
}

/** A server detail message in Chinese when a known pattern matches; otherwise the message itself. */
export function translateServerMessage(message: string): string {
  for (const [pattern, replacement] of zh.serverMessages) {
    if (pattern.test(message)) return message.replace(pattern, replacement)
  }
  return message
}

/** The Chinese name of an API field (the dotted path's known part, e.g. `target.value` → 目标值). */
export function fieldName(field: string): string {
  if (zh.fields[field]) return zh.fields[field]
  const parts = field.split('.')
  return zh.fields[parts.join('_')] ?? parts.map((p) => zh.fields[p] ?? p).join(' · ')
}

/** Builds an ApiError from a response status and whatever body came back. */
export function errorFromBody(status: number, body: unknown): ApiError {
  const err = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error
  if (err && typeof err === 'object') {
    const details = Array.isArray(err.details) ? (err.details as ErrorDetail[]).filter((d) => d && typeof d.message === 'string') : []
    return new ApiError(status, err.code ?? 'unknown', err.message ?? '', details)
  }
  return new ApiError(status, status >= 500 ? 'server_error' : 'unknown', typeof body === 'string' ? body : '')
}

function base(status: number, code: string): { title: string; hint: string } {
  if (zh.errors.codes[code]) return zh.errors.codes[code]
  if (status === 0) return zh.errors.network
  const table = zh.errors as unknown as Record<string, { title: string; hint: string } | undefined>
  return table[String(status)] ?? (status >= 500 ? zh.errors[500] : zh.errors.unknown)
}

/** Explains any thrown value in Chinese: an ApiError by status and code, a network failure, anything else. */
export function explain(error: unknown): Explained {
  if (!(error instanceof ApiError)) {
    if (error instanceof TypeError) return { ...zh.errors.network, lines: [] }
    return { ...zh.errors.unknown, lines: [] }
  }
  const lines = error.details
    .filter((d) => d.row == null)
    .map((d) => (d.field ? zh.errors.detail(fieldName(d.field), translateServerMessage(d.message)) : translateServerMessage(d.message)))
  return { ...base(error.status, error.code), lines }
}
