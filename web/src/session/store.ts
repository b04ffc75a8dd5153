// The one small store: who is signed in. Everything else is server state fetched per view.
import { reactive, readonly } from 'vue'
import { configureHttp } from '@/api/http'

/** Who is signed in, as the token says. */
export interface Session {
  token: string
  sub: string
  org: string | null
  roles: string[]
  expiresAt: number
  mode: 'dev' | 'oidc'
}

const KEY = 'closeloop.session'
const state = reactive<{ current: Session | null }>({ current: load() })

/** The claims of a JWT's payload (not verified here: the services verify every token). */
export function claimsOf(token: string): Record<string, unknown> {
  try {
    const part = token.split('.')[1] ?? ''
    const text = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='))
    const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0))
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>
  } catch {
    return {} // an opaque token: what we know comes from the ID token's profile
  }
}

/** A session from a token and its claims (`sub`, `org`, `roles`, `exp`). */
export function sessionFromToken(token: string, mode: 'dev' | 'oidc', fallback: Partial<Session> = {}): Session {
  const c = claimsOf(token)
  const roles = Array.isArray(c.roles) ? (c.roles as string[]) : typeof c.roles === 'string' ? c.roles.split(/[ ,]/) : (fallback.roles ?? [])
  return {
    token,
    sub: String(c.name ?? c.sub ?? fallback.sub ?? ''),
    org: typeof c.org === 'string' ? c.org : (fallback.org ?? null),
    roles: roles.filter(Boolean),
    expiresAt: typeof c.exp === 'number' ? c.exp * 1000 : (fallback.expiresAt ?? Date.now() + 3600_000),
    mode,
  }
}

function load(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null
    return s && s.expiresAt > Date.now() ? s : null
  } catch {
    return null
  }
}

/** The session, read-only; null when nobody is signed in. */
export const session = readonly(state)

/** Signs in with a session (kept for this browser tab only). */
export function signIn(s: Session): void {
  state.current = s
  sessionStorage.setItem(KEY, JSON.stringify(s))
}

/** Signs out and forgets the token. */
export function signOut(): void {
  state.current = null
  sessionStorage.removeItem(KEY)
}

/** Whether the signed-in person has one of the roles. */
export function hasRole(...roles: string[]): boolean {
  return !!state.current && roles.some((r) => state.current!.roles.includes(r))
}

/** Whether the session is still valid now. */
export function signedIn(): boolean {
  return !!state.current && state.current.expiresAt > Date.now()
}

let expiredHandler: () => void = () => {}

/** What to do when the server refuses the token (the router sends the person to sign in again). */
export function onSessionExpired(handler: () => void): void {
  expiredHandler = handler
}

configureHttp(() => state.current?.token ?? null, () => { signOut(); expiredHandler() })
