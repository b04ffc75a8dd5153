/// <reference types="vitest/config" />
// Build and test configuration. The `server` part (proxy and the /auth mock) exists only in the dev server.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath, URL } from 'node:url'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { defineConfig, type Plugin } from 'vite'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

const repo = fileURLToPath(new URL('..', import.meta.url))

/** Path prefixes of each service, as the services define their routes today (the gateway routes the same way). */
const PREFIXES: Record<string, string[]> = {
  'http://127.0.0.1:8001': ['/v1/orgs', '/v1/rounds', '/v1/issues', '/v1/public', '/v1/logs/issues', '/v1/checkpoints/issues'],
  'http://127.0.0.1:8002': ['/v1/evidence', '/v1/closures', '/v1/reopenings', '/v1/logs/verification', '/v1/checkpoints/verification'],
  'http://127.0.0.1:8003': ['/v1/schemes', '/v1/readings', '/v1/scores', '/v1/rankings', '/v1/facts', '/v1/logs/scoring', '/v1/checkpoints/scoring'],
  'http://127.0.0.1:8004': ['/v1/inbox', '/v1/recipients', '/v1/address-book', '/v1/webhooks', '/v1/deliveries', '/v1/digests', '/v1/bulletins', '/v1/logs/notify', '/v1/checkpoints/notify'],
}

function proxyTable(): Record<string, string> {
  const table: Record<string, string> = {}
  for (const [target, prefixes] of Object.entries(PREFIXES)) for (const p of prefixes) table[p] = target
  return table
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.end(JSON.stringify(body))
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    req.on('data', (chunk: Buffer) => { text += chunk.toString('utf8') })
    req.on('end', () => resolve(text))
  })
}

/** Development only: the gateway's /auth endpoints, minting tokens with the project's own CLI. */
function devAuth(): Plugin {
  const middleware = async (req: IncomingMessage, res: ServerResponse, next: () => void): Promise<void> => {
    const url = req.url ?? ''
    if (url === '/auth/config') return send(res, 200, { mode: 'dev', demo: false })
    if (url === '/auth/dev/orgs') {
      const [, ...lines] = readFileSync(`${repo}data/orgs.csv`, 'utf8').trim().split('\n')
      return send(res, 200, lines.map((l) => { const [id, name, kind] = l.split(','); return { id, name, kind } }))
    }
    if (url === '/auth/dev/token' && req.method === 'POST') {
      const body = JSON.parse((await readBody(req)) || '{}') as { org?: string; roles?: string[]; sub?: string }
      const args = ['token', '--sub', body.sub || 'dev', '--org', body.org || '', '--roles', (body.roles ?? []).join(',')]
      execFile(`${repo}.venv/bin/closeloop`, args, { cwd: repo }, (err, stdout) => {
        if (err) return send(res, 500, { error: { code: 'dev_token', message: String(err), details: [] } })
        send(res, 200, { token: stdout.trim(), expires_at: new Date(Date.now() + 3600_000).toISOString() })
      })
      return
    }
    next()
  }
  // the dev server, and `vite preview` of a local build (for measuring it): never the built app itself
  return {
    name: 'closeloop-dev-auth',
    apply: 'serve',
    configureServer(server) { server.middlewares.use(middleware) },
    configurePreviewServer(server) { server.middlewares.use(middleware) },
  }
}

export default defineConfig({
  plugins: [
    vue(),
    Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: 'components.d.ts' }),
    devAuth(),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: { proxy: proxyTable() },
  build: { target: 'es2022', chunkSizeWarningLimit: 1200, manifest: true },
  test: { environment: 'happy-dom', include: ['tests/**/*.test.ts'], server: { deps: { inline: ['element-plus'] } } },
})
