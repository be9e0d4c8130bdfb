#!/usr/bin/env bash
# Packs the library as npm would publish it, installs the tarball into a fresh project and imports
# every entry point from both ESM and CommonJS.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
cd "$work"
npm init -y >/dev/null
npm install --silent --no-audit --no-fund "./$tarball" ioredis@5 mongodb@7 prom-client@15 @opentelemetry/api@1 keyv@5 >/dev/null
cat > esm.mjs <<'JS'
import { Cache, LRUEvict, ScopeConfig, ScopeLevel, StorageError } from 'cacheado'
import * as redis from 'cacheado/redis'
import * as mongodb from 'cacheado/mongodb'
import { registerPrometheus } from 'cacheado/prometheus'
import { registerOpenTelemetry } from 'cacheado/otel'
import * as storage from 'cacheado/storage'
import { KeyvAdapter } from 'cacheado/keyv'
import Keyv from 'keyv'
import { Registry } from 'prom-client'
if (typeof storage.MISS !== 'symbol' || storage.decodeEntryRef(storage.encodeEntryRef({ scope: [{ level: 'a', id: '/|' }], key: 'k' })).scope[0].id !== '/|') throw new Error('esm: cacheado/storage')
if (!(new storage.StorageError('x') instanceof (await import('cacheado')).CacheError)) throw new Error('esm: one error class across entries')
const cache = new Cache({ rules: [new LRUEvict({ maxItems: 2 })], stats: { topN: 10 } })
const registry = new Registry()
registerPrometheus(cache, { registry })
registerOpenTelemetry(cache)
cache.setSync('k', 1, { scope: 'user', orgId: 'o', userId: 'u' })
if (cache.getSync('k', { scope: 'user', orgId: 'o', userId: 'u' }) !== 1) throw new Error('esm: get failed')
if (typeof redis.RedisStorage !== 'function' || typeof mongodb.MongoDBStorage !== 'function') throw new Error('esm: subpaths')
if (typeof ScopeConfig !== 'function' || typeof ScopeLevel !== 'function' || typeof StorageError !== 'function') throw new Error('esm')
if (!(await registry.metrics()).includes('cacheado_hits_total 1')) throw new Error('esm: prometheus')
const tenant = new Keyv({ store: new KeyvAdapter(cache, { scope: 'organization', orgId: 'o' }) })
await tenant.set('k', 'v')
if ((await tenant.get('k')) !== 'v' || (await new Keyv({ store: new KeyvAdapter(cache) }).get('k')) !== undefined) throw new Error('esm: cacheado/keyv')
console.log('esm ok')
JS
cat > cjs.cjs <<'JS'
const { Cache, StorageError } = require('cacheado')
const { RedisStorage } = require('cacheado/redis')
const { MongoDBStorage } = require('cacheado/mongodb')
const { registerPrometheus } = require('cacheado/prometheus')
const { registerOpenTelemetry } = require('cacheado/otel')
const storage = require('cacheado/storage')
const { KeyvAdapter } = require('cacheado/keyv')
if (typeof storage.MISS !== 'symbol' || typeof storage.encodeEntryRef !== 'function' || storage.MISS !== require('cacheado').MISS) throw new Error('cjs: cacheado/storage')
const cache = new Cache()
if (typeof KeyvAdapter !== 'function' || typeof new KeyvAdapter(cache).clear !== 'function') throw new Error('cjs: cacheado/keyv')
if (typeof registerPrometheus !== 'function' || typeof registerOpenTelemetry !== 'function') throw new Error('cjs: metric entries')
cache.setSync('k', 2)
if (cache.getSync('k') !== 2) throw new Error('cjs: get failed')
if (typeof RedisStorage !== 'function' || typeof MongoDBStorage !== 'function' || typeof StorageError !== 'function') throw new Error('cjs')
console.log('cjs ok')
JS
cat > types.ts <<'TS'
import { Cache } from 'cacheado'
const cache = new Cache()
cache.setSync('k', 1, { scope: 'user', orgId: 'o', userId: 'u' })
TS
node esm.mjs
node cjs.cjs
cat >> types.ts <<'TS'
import { RedisStorage } from 'cacheado/redis'
import { MongoDBStorage } from 'cacheado/mongodb'
import { registerPrometheus } from 'cacheado/prometheus'
import { registerOpenTelemetry } from 'cacheado/otel'
import { describeStorageConformance, type TestRunner } from 'cacheado/testing'
import { MISS, type StorageContext, type StorageProvider } from 'cacheado/storage'
export const contract: [typeof MISS, StorageContext?, StorageProvider?] = [MISS]
import { Registry } from 'prom-client'
export const conformance: [typeof describeStorageConformance, TestRunner?] = [describeStorageConformance]
registerPrometheus(cache, { registry: new Registry() }).unregister()
registerOpenTelemetry(cache).unregister()
const typed: number | undefined = cache.getSync<number>('k', { scope: 'user', orgId: 'o', userId: 'u' })
// @ts-expect-error a user-scoped read needs userId
cache.getSync('k', { scope: 'user', orgId: 'o' })
export const storages = [RedisStorage, MongoDBStorage, typed]
TS
# the published declarations type-check in a strict NodeNext project, as CommonJS (.ts here) and as ESM (.mts)
cp types.ts types.mts
"$root/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck false --module nodenext --moduleResolution nodenext \
  --target es2022 --types node --typeRoots "$root/node_modules/@types" types.ts types.mts
echo 'types ok'
# every entry of `exports` resolves, with the same declarations, under each module resolution a consumer
# may use: CommonJS (moduleResolution node10, NestJS's default: it ignores `exports` and reads
# `typesVersions`), node16, nodenext and bundler
node -e "
const pkg = require('cacheado/package.json')
const subpaths = Object.keys(pkg.exports).filter((k) => k !== '.' && k !== './package.json')
const mapped = pkg.typesVersions?.['*'] ?? {}
for (const s of subpaths) {
  const want = pkg.exports[s].import.types
  if (JSON.stringify(mapped[s.slice(2)]) !== JSON.stringify([want])) throw new Error('typesVersions must map ' + s.slice(2) + ' to [' + want + '] as exports does')
}
if (Object.keys(mapped).length !== subpaths.length) throw new Error('typesVersions maps a path that exports does not have')
const lines = ['cacheado', ...subpaths.map((s) => 'cacheado' + s.slice(1))].map((m, i) => 'import * as e' + i + \" from '\" + m + \"'\")
lines.push('export const entries: object[] = [' + lines.map((_, i) => 'e' + i).join(', ') + ']')
require('fs').writeFileSync('entries.ts', lines.join('\\n') + '\\n')
"
cat >> entries.ts <<'TS'
import { Cache } from 'cacheado'
import { KeyvAdapter, type KeyvScopeSelector } from 'cacheado/keyv'
import { RedisStorage } from 'cacheado/redis'
import Keyv from 'keyv'
const shared = new Cache({ storage: new RedisStorage({ url: 'redis://127.0.0.1:1' }) })
export const keyv = new Keyv({ store: new KeyvAdapter(shared, { scope: 'organization', orgId: 'o1' }) })
export const ambient: KeyvScopeSelector<typeof shared.scopes> = { scope: 'user' }
// @ts-expect-error a user-scoped adapter needs orgId with userId
export const wrong = new KeyvAdapter(shared, { scope: 'user', userId: 'u' })
TS
pids=()
for mode in commonjs:node10 node16:node16 nodenext:nodenext esnext:bundler; do
  "$root/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck --esModuleInterop --target es2022 --types node \
    --typeRoots "$root/node_modules/@types" --module "${mode%%:*}" --moduleResolution "${mode##*:}" entries.ts \
    >"types-${mode%%:*}.log" 2>&1 &
  pids+=("$!")
done
for i in 0 1 2 3; do
  wait "${pids[$i]}" || { cat types-*.log >&2; echo 'types: an entry does not resolve under some moduleResolution' >&2; exit 1; }
done
echo 'module resolution ok: commonjs (node10), node16, nodenext, bundler'
# cacheado/testing: a provider written outside the repo (it delegates to InMemory) passes the shipped
# conformance suite under node:test, from ESM and CommonJS
cat > outside-provider.mjs <<'JS'
import { afterEach, describe, it } from 'node:test'
import { InMemory } from 'cacheado'
import { describeStorageConformance } from 'cacheado/testing'
class OutsideStorage {
  storageType = 'outside'
  supportsBounds = true
  #inner = new InMemory()
  attach(context) { this.#inner.attach(context) }
  get(ref) { return this.#inner.get(ref) }
  set(ref, value, ttlMs) { return this.#inner.set(ref, value, ttlMs) }
  delete(ref) { return this.#inner.delete(ref) }
  evictScope(path) { return this.#inner.evictScope(path) }
  size() { return this.#inner.size() }
  close() { return this.#inner.close() }
}
describeStorageConformance('outside', { create: () => new OutsideStorage(), runner: { describe, it, afterEach }, propertyRuns: 20 })
JS
node --test --test-reporter=tap outside-provider.mjs >testing.log 2>&1 || { cat testing.log >&2; echo 'testing: the shipped suite failed' >&2; exit 1; }
grep -q '^# fail 0' testing.log || { cat testing.log >&2; exit 1; }
node -e "const t = require('cacheado/testing'); if (typeof t.describeStorageConformance !== 'function') process.exit(1)"
# ...and under jest (the repository's jest, no transform), from CommonJS, with jest's globals
sed -e "s/^import { afterEach, describe, it } from 'node:test'$//" \
  -e "s/^import { InMemory } from 'cacheado'$/const { InMemory } = require('cacheado')/" \
  -e "s/^import { describeStorageConformance } from 'cacheado\/testing'$/const { describeStorageConformance } = require('cacheado\/testing')/" \
  outside-provider.mjs >outside-provider.jest.cjs
grep -q "^import" outside-provider.jest.cjs && { echo 'testing: outside-provider.jest.cjs still imports' >&2; exit 1; }
node "$root/node_modules/jest/bin/jest.js" --ci \
  --config "{\"rootDir\":\"$work\",\"testMatch\":[\"<rootDir>/outside-provider.jest.cjs\"],\"transform\":{},\"testEnvironment\":\"node\"}" \
  >testing-jest.log 2>&1 || { cat testing-jest.log >&2; echo 'testing: the shipped suite failed under jest' >&2; exit 1; }
grep -Eq '^Tests: +[1-9][0-9]* passed, [0-9]+ total' testing-jest.log || { cat testing-jest.log >&2; exit 1; }
echo 'testing ok (node:test, jest)'
# the framework entries: each loads from ESM and CommonJS once its framework is installed, and its
# declarations type-check (cacheado/express needs no @types/express; fastify and NestJS ship their own
# types, which are theirs to check: skipLibCheck for those two)
npm install --silent --no-audit --no-fund express@5 fastify@5 @nestjs/common@12 @nestjs/core@12 rxjs@7 reflect-metadata >/dev/null
cat > frameworks.mjs <<'JS'
import { cacheadoScope, cacheResponse, responseKey } from 'cacheado/express'
import { cacheadoFastify } from 'cacheado/fastify'
import { CacheadoModule, CACHEADO } from 'cacheado/nestjs'
import { Cache } from 'cacheado'
const cache = new Cache()
if (typeof cacheadoScope(cache, () => undefined) !== 'function' || typeof cacheResponse(cache, { scope: 'user' }) !== 'function') throw new Error('esm: express')
if (typeof cacheadoFastify(cache, { scope: () => undefined }) !== 'function' || responseKey('HEAD', '/') !== 'http:GET /') throw new Error('esm: fastify')
if (CacheadoModule.forRoot({ cache }).providers[0].useValue !== cache || typeof CACHEADO !== 'symbol') throw new Error('esm: nestjs')
console.log('frameworks esm ok')
JS
node frameworks.mjs
node -e "
const { Cache } = require('cacheado')
const cache = new Cache()
if (typeof require('cacheado/express').cacheadoScope(cache, () => undefined) !== 'function') process.exit(1)
if (typeof require('cacheado/fastify').cacheadoFastify(cache, { scope: () => undefined }) !== 'function') process.exit(1)
if (require('cacheado/nestjs').CacheadoModule.forRoot({ cache }).providers[0].useValue !== cache) process.exit(1)
console.log('frameworks cjs ok')"
cat > express-types.mts <<'TS'
import { Cache } from 'cacheado'
import { cacheadoScope, cacheResponse } from 'cacheado/express'
const cache = new Cache()
export const scope = cacheadoScope(cache, (req) => ({ orgId: String(req.headers['x-org-id']) }))
export const responses = cacheResponse(cache, { scope: 'organization', ttlSeconds: 30 })
// @ts-expect-error teamId is not a scope parameter of this cache
cacheadoScope(cache, () => ({ teamId: 't' }))
TS
"$root/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck false --module nodenext --moduleResolution nodenext \
  --target es2022 --types node --typeRoots "$root/node_modules/@types" express-types.mts
cat > framework-types.mts <<'TS'
import { Cache } from 'cacheado'
import { cacheadoFastify } from 'cacheado/fastify'
import { CacheadoModule } from 'cacheado/nestjs'
const cache = new Cache()
export const plugin = cacheadoFastify(cache, { scope: (req) => ({ orgId: String(req.headers['x-org-id']) }) })
export const module = CacheadoModule.forRoot({ cache, scope: () => ({ orgId: 'o' }) })
TS
"$root/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck --module nodenext --moduleResolution nodenext \
  --target es2022 --types node --typeRoots "$root/node_modules/@types" framework-types.mts
echo 'frameworks types ok'
# the operator CLI: npm linked the bin, it starts, and a wrong command line exits with 2
npx --no-install cacheado --help | grep -q '^Usage: cacheado' || { echo 'bin: no help' >&2; exit 1; }
status=0; npx --no-install cacheado stats --url http://nowhere 2>/dev/null || status=$?
if [ "$status" -ne 2 ]; then echo "bin: expected exit code 2, got $status" >&2; exit 1; fi
echo 'bin ok'
if [ -d node_modules/cacheado/src ] || [ -d node_modules/cacheado/test ]; then echo 'package ships sources or tests' >&2; exit 1; fi
echo "package ok: $tarball"
