// Prints the gzipped size of the JavaScript a first visit loads: the entry and the chunks it imports
// statically, and the sign-in page it lands on (other routes and ECharts load when a page needs them).
import { readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'

const manifest = JSON.parse(readFileSync('dist/.vite/manifest.json', 'utf8'))
const entry = Object.values(manifest).find((c) => c.isEntry)
const seen = new Set()
function walk(chunk) {
  if (!chunk || seen.has(chunk.file)) return
  seen.add(chunk.file)
  for (const key of chunk.imports ?? []) walk(manifest[key])
}
walk(entry)
// a first visit also loads the page it lands on: the sign-in page (and what it imports)
walk(manifest['src/session/SignInPage.vue'])
const GOAL = 500 * 1024
let total = 0
for (const file of [...seen].filter((f) => f.endsWith('.js'))) {
  const size = gzipSync(readFileSync(`dist/${file}`)).length
  total += size
  console.log(`  ${file.padEnd(48)} ${(size / 1024).toFixed(1).padStart(8)} KB gzip`)
}
const css = (entry.css ?? []).reduce((n, f) => n + gzipSync(readFileSync(`dist/${f}`)).length, 0)
console.log(`first visit: ${(total / 1024).toFixed(1)} KB of JavaScript gzipped (goal < ${GOAL / 1024} KB), ${(css / 1024).toFixed(1)} KB of CSS`)
if (total >= GOAL) { console.error('the first visit is over the goal'); process.exit(1) }
