// The one way the app talks to the APIs: same origin, bearer token, errors as ApiError.
import { ApiError, errorFromBody } from './errors'

type TokenSource = () => string | null
type Expired = () => void

let tokenOf: TokenSource = () => null
let onExpired: Expired = () => {}

/** Wires the session in: where the token comes from and what to do when the server says it expired. */
export function configureHttp(source: TokenSource, expired: Expired): void {
  tokenOf = source
  onExpired = expired
}

/** Query values: undefined, null and '' are left out. */
export type QueryValues = Record<string, string | number | boolean | null | undefined>

/** A relative URL with its query string. */
export function withQuery(path: string, query?: QueryValues): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  const text = params.toString()
  return text ? `${path}?${text}` : path
}

function headers(extra?: HeadersInit): Headers {
  const h = new Headers(extra)
  const token = tokenOf()
  if (token && !h.has('Authorization')) h.set('Authorization', `Bearer ${token}`)
  return h
}

async function refuse(res: Response): Promise<never> {
  const text = await res.text()
  let body: unknown = text
  try { body = text ? JSON.parse(text) : null } catch { /* not JSON: keep the text */ }
  if (res.status === 401) onExpired()
  throw errorFromBody(res.status, body)
}

/** Sends a request and returns the response; any non-2xx becomes an ApiError, a network failure too (status 0). */
export async function send(method: string, path: string, init: { query?: QueryValues; json?: unknown; body?: BodyInit; headers?: HeadersInit; signal?: AbortSignal } = {}): Promise<Response> {
  const h = headers(init.headers)
  let body = init.body
  if (init.json !== undefined) {
    h.set('Content-Type', 'application/json')
    body = JSON.stringify(init.json)
  }
  let res: Response
  try {
    res = await fetch(withQuery(path, init.query), { method, headers: h, body, signal: init.signal })
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e
    throw new ApiError(0, 'network', String(e))
  }
  if (!res.ok) await refuse(res)
  return res
}

/** GET and parse JSON. */
export async function getJson<T>(path: string, query?: QueryValues, signal?: AbortSignal): Promise<T> {
  return (await (await send('GET', path, { query, signal })).json()) as T
}

/** POST/PATCH/PUT JSON and parse the JSON answer. */
export async function sendJson<T>(method: 'POST' | 'PATCH' | 'PUT', path: string, json?: unknown): Promise<T> {
  const res = await send(method, path, { json: json ?? {} })
  return (res.status === 204 ? null : await res.json()) as T
}

/** Uploads a form with progress (fetch cannot report upload progress; XMLHttpRequest can). */
export function upload<T>(path: string, form: FormData, onProgress: (percent: number) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', path)
    const token = tokenOf()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(Math.round((e.loaded / e.total) * 100)) }
    xhr.onerror = () => reject(new ApiError(0, 'network', 'upload failed'))
    xhr.onload = () => {
      let body: unknown = xhr.responseText
      try { body = JSON.parse(xhr.responseText) } catch { /* keep text */ }
      if (xhr.status >= 200 && xhr.status < 300) return resolve(body as T)
      if (xhr.status === 401) onExpired()
      reject(errorFromBody(xhr.status, body))
    }
    xhr.send(form)
  })
}

/** Downloads a file with progress in bytes, and hands it to the browser as a download. */
export async function download(path: string, query: QueryValues, fallbackName: string, onBytes: (n: number) => void): Promise<void> {
  const res = await send('GET', path, { query })
  const reader = res.body?.getReader()
  const chunks: BlobPart[] = []
  let received = 0
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value as BlobPart)
      received += value.length
      onBytes(received)
    }
  } else {
    chunks.push(await res.blob())
  }
  const name = /filename\*=UTF-8''([^;]+)/.exec(res.headers.get('Content-Disposition') ?? '')?.[1]
  const a = document.createElement('a')
  a.href = URL.createObjectURL(new Blob(chunks, { type: res.headers.get('Content-Type') ?? 'application/octet-stream' }))
  a.download = name ? decodeURIComponent(name) : fallbackName
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000)
}

/** A protected file as an object URL (for showing evidence photos, which need the token). */
export async function objectUrl(path: string): Promise<string> {
  return URL.createObjectURL(await (await send('GET', path)).blob())
}
