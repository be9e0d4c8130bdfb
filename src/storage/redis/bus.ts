import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { ConfigurationError, storageTimeout } from '../../errors.js'
import type { Bus, BusHandlers, BusMessage, EntryRef, Invalidation, ScopePath } from '../contract.js'
import { BUS_RECEIVER_TIMING } from '../contract.js'
import type { RedisClient } from './connection.js'
import { LuaScript } from './connection.js'
import { composeLua, luaFragment } from './compose.js'
import { BROADCAST_FRAGMENT } from './lua.js'
import { Deadlines } from './deadlines.js'
import { timerMs } from '../../ttl.js'

/** Options of `new RedisBus(...)`. */
export interface RedisBusOptions {
  /**
   * An ioredis `Redis` or `Cluster` client: messages are published through it, and a duplicate of it
   * (its own connection, closed by `close()`) subscribes. The bus never closes this client.
   */
  readonly client: RedisClient
  /** The pub/sub channel; every process of one cache must use the same. */
  readonly channel: string
  /**
   * Standalone Redis: how long a process's registration as a receiver lasts without being renewed
   * (renewed every third of it). Default 30 000 ms.
   */
  readonly leaseMs?: number
  /**
   * Timeout in milliseconds of the bus's own commands (subscribe, publish, registration). Default: none
   * of its own, as long as the client's `commandTimeout` (if any) allows. `createBus()` sets the
   * storage's `commandTimeoutMs`.
   */
  readonly timeoutMs?: number
}

/** How long a (re)registered receiver keeps no copies: see {@link BUS_RECEIVER_TIMING}. */
const QUIET_MS = BUS_RECEIVER_TIMING.quietMs

/** KEYS[1] registry; ARGV channel, origin, text. */
const BROADCAST = new LuaScript(
  composeLua('BUS_BROADCAST', [
    luaFragment(
      'bus broadcast arguments',
      'local REGISTRY, CHANNEL, ORIGIN, TEXT = KEYS[1], ARGV[1], ARGV[2], ARGV[3]\n',
      { defines: ['REGISTRY', 'CHANNEL', 'ORIGIN', 'TEXT'] },
    ),
    BROADCAST_FRAGMENT,
    luaFragment('return 1', '\nreturn 1\n'),
  ]).source,
)

/**
 * KEYS[1] registry; ARGV origin, lease ms. Registers (or renews) a receiver and drops lapsed ones.
 * Returns 1 when the receiver was not registered (first registration, or it was lost: lapsed, or the
 * registry was flushed), else 0.
 */
const REGISTER = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1)
local added = redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[1], lease * 2)
return added
`)

/** The registry of a bus channel's receivers (standalone Redis). */
export const registryOf = (channel: string): string => `${channel}:members`

/**
 * An invalidation bus on Redis pub/sub: `RedisStorage.createBus()` makes one on the storage's client
 * with the channel `<prefix>:bus`, so caches with different prefixes never hear each other.
 *
 * Standalone Redis: every receiver has an inbox channel `<channel>:<origin>` and registers in a sorted
 * set `<channel>:members` with a lease it renews; a message is published (by a script, or by the write
 * script itself) to the inbox of every live receiver except the sender's own, so a process never pays
 * for receiving its own messages. A receiver whose renewal was late enough that senders may have
 * skipped it reports `onReset`. Redis Cluster (where one script cannot reach the registry's slot): one
 * shared channel, and a process drops its own messages on arrival. Receivers listen on the shared
 * channel in both modes.
 *
 * Delivery is at most once (Redis pub/sub keeps nothing for a disconnected subscriber), so the bus
 * reports every (re)subscription through `onReset`, and the local tier then forgets every copy: a
 * process never relies on messages it may have missed. Resubscription is the bus's own job (ioredis's
 * automatic resubscription is turned off on standalone clients) so that `onReset` comes only once the
 * subscription is confirmed again. Messages are small JSON documents that name entries or scope
 * paths, never values.
 */
export class RedisBus implements Bus {
  /** The pub/sub channel in use. */
  readonly channel: string
  readonly #publisher: RedisClient
  /** Inboxes and a registry (standalone) rather than one shared channel (Cluster). */
  readonly #inboxes: boolean
  readonly #leaseMs: number
  #origin = ''
  #subscriber: RedisClient | undefined
  #closed = false
  #retry: NodeJS.Timeout | undefined
  #heartbeat: NodeJS.Timeout | undefined
  /** When the last successful registration was sent (0: never). */
  #registeredAt = 0
  readonly #deadlines: Deadlines | undefined

  constructor(options: RedisBusOptions) {
    if (options === null || typeof options !== 'object' || typeof options.client?.publish !== 'function') {
      throw new ConfigurationError('new RedisBus(options) expects { client: an ioredis client, channel }')
    }
    if (typeof options.channel !== 'string' || options.channel === '') {
      throw new ConfigurationError('RedisBus: channel must be a non-empty string')
    }
    const lease = options.leaseMs ?? 30_000
    if (!Number.isSafeInteger(lease) || lease < 300) {
      throw new ConfigurationError(
        `RedisBus: leaseMs must be an integer of at least 300, got ${String(lease)}`,
      )
    }
    timerMs(lease, 'RedisBus: leaseMs', '{ leaseMs: 30000 }')
    this.#publisher = options.client
    this.channel = options.channel
    this.#inboxes = options.client instanceof Redis
    this.#leaseMs = lease
    const timeout = options.timeoutMs
    if (timeout !== undefined && !(typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0)) {
      throw new ConfigurationError(`RedisBus: timeoutMs must be a positive number, got ${String(timeout)}`)
    }
    if (timeout !== undefined) timerMs(timeout, 'RedisBus: timeoutMs', '{ timeoutMs: 1000 }')
    this.#deadlines =
      timeout === undefined
        ? undefined
        : new Deadlines(timeout, () => storageTimeout('redis', 'bus command', 'timeoutMs', timeout))
  }

  subscribe(handlers: BusHandlers): void {
    if (this.#subscriber !== undefined || this.#closed) {
      throw new ConfigurationError('RedisBus.subscribe() can be called once, before close()')
    }
    const publisher = this.#publisher
    const subscriber: RedisClient =
      publisher instanceof Redis
        ? publisher.duplicate({ autoResubscribe: false, lazyConnect: false })
        : publisher.duplicate()
    this.#subscriber = subscriber
    this.#origin = handlers.origin ?? randomUUID()
    const inbox = `${this.channel}:${this.#origin}`
    // Connection errors are retried by ioredis on its own; they surface as an `onReset` once it recovers.
    subscriber.on('error', () => undefined)
    // encodeMessage writes the origin first: a process's own messages are recognised by their start.
    const own = handlers.origin === undefined ? undefined : `{"o":${JSON.stringify(handlers.origin)},`
    subscriber.on('message', (channel: string, text: string) => {
      if ((channel !== this.channel && channel !== inbox) || (own !== undefined && text.startsWith(own)))
        return
      const message = decodeMessage(text)
      if (message === undefined) handlers.onReset('an undecodable bus message')
      else handlers.onMessage(message)
    })
    subscriber.on('ready', () => this.#listen(handlers))
    if (subscriber.status === 'ready') this.#listen(handlers)
    if (this.#inboxes) {
      this.#heartbeat = setInterval(() => this.#renew(handlers), Math.floor(this.#leaseMs / 3))
      this.#heartbeat.unref()
    }
  }

  async publish(message: BusMessage): Promise<void> {
    const text = encodeMessage(message)
    await this.#timed(
      this.#inboxes
        ? BROADCAST.run(this.#publisher, [registryOf(this.channel)], [this.channel, message.origin, text])
        : this.#publisher.publish(this.channel, text),
    )
  }

  /**
   * Standalone Redis: the number of registered receivers (`ZCARD` of the registry: lapsed ones count
   * until a registration drops them, a live one is never missed). Receivers (re)registered report
   * `onReset` with {@link BUS_RECEIVER_TIMING}'s `quietMs`. Redis Cluster keeps no registry: always
   * `Infinity` (every write is announced).
   */
  async receivers(): Promise<number> {
    if (!this.#inboxes) return Number.POSITIVE_INFINITY
    await this.#publisherReady()
    return this.#timed(this.#publisher.zcard(registryOf(this.channel)))
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    clearInterval(this.#heartbeat)
    const subscriber = this.#subscriber
    if (subscriber === undefined) return
    if (this.#inboxes && this.#publisher.status === 'ready') {
      await this.#publisher.zrem(registryOf(this.channel), this.#origin).catch(() => undefined)
    }
    subscriber.removeAllListeners('message')
    subscriber.removeAllListeners('ready')
    subscriber.disconnect()
    this.#deadlines?.stop()
  }

  #timed<T>(promise: Promise<T>): Promise<T> {
    return this.#deadlines === undefined ? promise : this.#deadlines.race(promise)
  }

  /** (Re)subscribes; once confirmed, messages may have been missed before it: `onReset`. */
  #listen(handlers: BusHandlers): void {
    const subscriber = this.#subscriber
    if (subscriber === undefined || this.#closed) return
    const channels = this.#inboxes ? [this.channel, `${this.channel}:${this.#origin}`] : [this.channel]
    this.#timed(subscriber.subscribe(...channels))
      .then(() => (this.#inboxes ? this.#register() : undefined))
      .then(
        () => {
          if (!this.#closed) handlers.onReset('subscribed', this.#inboxes ? QUIET_MS : undefined)
        },
        (error: unknown) => {
          if (this.#closed) return
          handlers.onError(error)
          // Still connected but refused: try again in a second (a lost connection retries on 'ready').
          clearTimeout(this.#retry)
          this.#retry = setTimeout(() => {
            if (subscriber.status === 'ready') this.#listen(handlers)
          }, 1000)
          this.#retry.unref()
        },
      )
  }

  /**
   * Registers this receiver for another lease; resolves once the registration is in Redis. Waits for
   * the publishing client's connection first: at start-up the bus's own connection may be ready
   * before it, and a command on a client without an offline queue would fail at once.
   */
  async #register(): Promise<boolean> {
    await this.#publisherReady()
    const sent = Date.now()
    const added = await this.#timed(
      REGISTER.run(this.#publisher, [registryOf(this.channel)], [this.#origin, String(this.#leaseMs)]),
    )
    this.#registeredAt = sent
    return Number(added) === 1
  }

  /** Resolves once the publishing client is connected (at once if it is), or the bus was closed. */
  #publisherReady(): Promise<void> {
    const publisher = this.#publisher
    if (publisher.status === 'ready' || this.#closed) return Promise.resolve()
    return new Promise((resolve) => {
      const done = () => {
        publisher.off('ready', done)
        clearInterval(poll)
        resolve()
      }
      publisher.once('ready', done)
      // Also when the bus closes meanwhile (the registration then fails or is dropped).
      const poll = setInterval(() => {
        if (this.#closed || publisher.status === 'ready') done()
      }, 50)
      poll.unref()
    })
  }

  /**
   * Renews the registration. If the previous one may have lapsed (renewals failed, or the process
   * stalled), or was lost (the registry was flushed), senders may have skipped this receiver:
   * `onReset` once registered again.
   */
  #renew(handlers: BusHandlers): void {
    if (this.#closed || this.#subscriber?.status !== 'ready') return
    const previous = this.#registeredAt
    this.#register().then(
      (added) => {
        if (this.#closed || previous === 0) return
        // A fifth of the lease as margin for the round trips of the two registrations.
        if (Date.now() - previous > this.#leaseMs * 0.8) handlers.onReset('registration lapsed', QUIET_MS)
        else if (added) handlers.onReset('registration lost', QUIET_MS)
      },
      (error: unknown) => {
        if (!this.#closed) handlers.onError(error)
      },
    )
  }
}

type WireRef = [scope: string[], key: string]
type WireMessage = { o: string; e: WireRef[] } | { o: string; s: string[] }

function flatScope(path: ScopePath): string[] {
  const flat: string[] = []
  for (const segment of path) flat.push(segment.level, segment.id)
  return flat
}

function scopeOf(flat: unknown): ScopePath | undefined {
  if (!Array.isArray(flat) || flat.length % 2 !== 0) return undefined
  const path: { level: string; id: string }[] = []
  for (let i = 0; i < flat.length; i += 2) {
    const level: unknown = flat[i]
    const id: unknown = flat[i + 1]
    if (typeof level !== 'string' || typeof id !== 'string') return undefined
    path.push({ level, id })
  }
  return path
}

/** The JSON text of a message (scope paths flattened to `[level, id, level, id, ...]`). */
export function encodeMessage(message: BusMessage): string {
  const { origin, invalidation } = message
  const wire: WireMessage =
    invalidation.kind === 'entries'
      ? { o: origin, e: invalidation.refs.map((ref) => [flatScope(ref.scope), ref.key]) }
      : { o: origin, s: flatScope(invalidation.path) }
  return JSON.stringify(wire)
}

/** The message in a JSON text, or `undefined` when it is not one. */
export function decodeMessage(text: string): BusMessage | undefined {
  let wire: unknown
  try {
    wire = JSON.parse(text)
  } catch {
    return undefined
  }
  if (wire === null || typeof wire !== 'object') return undefined
  const { o, e, s } = wire as { o?: unknown; e?: unknown; s?: unknown }
  if (typeof o !== 'string') return undefined
  let invalidation: Invalidation
  if (Array.isArray(e)) {
    const refs: EntryRef[] = []
    for (const item of e as unknown[]) {
      if (!Array.isArray(item) || typeof item[1] !== 'string') return undefined
      const scope = scopeOf(item[0])
      if (scope === undefined) return undefined
      refs.push({ scope, key: item[1] })
    }
    invalidation = { kind: 'entries', refs }
  } else {
    const path = scopeOf(s)
    if (path === undefined) return undefined
    invalidation = { kind: 'scope', path }
  }
  return { origin: o, invalidation }
}
