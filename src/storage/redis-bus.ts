import { Redis } from 'ioredis'
import { ConfigurationError } from '../errors.js'
import type { Bus, BusHandlers, BusMessage, EntryRef, Invalidation, ScopePath } from './contract.js'
import type { RedisClient } from './redis-connection.js'

/** Options of `new RedisBus(...)`. */
export interface RedisBusOptions {
  /**
   * An ioredis `Redis` or `Cluster` client: messages are published through it, and a duplicate of it
   * (its own connection, closed by `close()`) subscribes. The bus never closes this client.
   */
  readonly client: RedisClient
  /** The pub/sub channel; every process of one cache must use the same. */
  readonly channel: string
}

/**
 * An invalidation bus on Redis pub/sub: `RedisStorage.createBus()` makes one on the storage's client
 * with the channel `<prefix>:bus`, so caches with different prefixes never hear each other.
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
  #subscriber: RedisClient | undefined
  #closed = false
  #retry: NodeJS.Timeout | undefined

  constructor(options: RedisBusOptions) {
    if (options === null || typeof options !== 'object' || typeof options.client?.publish !== 'function') {
      throw new ConfigurationError('new RedisBus(options) expects { client: an ioredis client, channel }')
    }
    if (typeof options.channel !== 'string' || options.channel === '') {
      throw new ConfigurationError('RedisBus: channel must be a non-empty string')
    }
    this.#publisher = options.client
    this.channel = options.channel
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
    // Connection errors are retried by ioredis on its own; they surface as an `onReset` once it recovers.
    subscriber.on('error', () => undefined)
    // encodeMessage writes the origin first: a process's own messages are recognised by their start.
    const own = handlers.origin === undefined ? undefined : `{"o":${JSON.stringify(handlers.origin)},`
    subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel || (own !== undefined && text.startsWith(own))) return
      const message = decodeMessage(text)
      if (message === undefined) handlers.onReset('an undecodable bus message')
      else handlers.onMessage(message)
    })
    subscriber.on('ready', () => this.#listen(handlers))
    if (subscriber.status === 'ready') this.#listen(handlers)
  }

  async publish(message: BusMessage): Promise<void> {
    await this.#publisher.publish(this.channel, encodeMessage(message))
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    const subscriber = this.#subscriber
    if (subscriber === undefined) return
    subscriber.removeAllListeners('message')
    subscriber.removeAllListeners('ready')
    subscriber.disconnect()
  }

  /** (Re)subscribes; once confirmed, messages may have been missed before it: `onReset`. */
  #listen(handlers: BusHandlers): void {
    const subscriber = this.#subscriber
    if (subscriber === undefined || this.#closed) return
    subscriber.subscribe(this.channel).then(
      () => {
        if (!this.#closed) handlers.onReset('subscribed')
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
