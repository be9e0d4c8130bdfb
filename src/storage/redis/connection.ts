import { createHash } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { ConfigurationError, SerializationError } from '../../errors.js'

/** An ioredis client: a standalone `Redis` or a `Cluster`. */
export type RedisClient = Redis | Cluster

/** A cluster node address. */
export interface RedisNode {
  /** Host name or IP address. */
  readonly host: string
  /** TCP port. */
  readonly port: number
}

/** How to reach Redis; exactly one of `url`, `cluster`, `client`. */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://`). */
  readonly url?: string
  /** Database number (standalone only); overrides the one in the URL. */
  readonly db?: number
  /** Seed nodes of a Redis Cluster; a `Cluster` client is created. */
  readonly cluster?: readonly RedisNode[]
  /** Password for the cluster nodes (a `url` carries its own). */
  readonly password?: string
  /** An existing ioredis `Redis` or `Cluster`; the storage does not close it. */
  readonly client?: RedisClient
  /**
   * Timeout of every command in milliseconds. The storage times its commands itself (see
   * `deadlines.ts`); the clients it creates get it as their connect timeout (at least 1 s).
   */
  readonly commandTimeoutMs: number
}

/** A client ready for the storage, with a password-free description for error messages. */
export interface Connection {
  readonly client: RedisClient
  /** Whether the storage created the client (and must close it). */
  readonly owned: boolean
  /** Where the client points, without any password, e.g. `redis://127.0.0.1:6379/0`. */
  readonly where: string
  /** The last connection error reported by a client we own. */
  lastError: Error | undefined
}

/** Reconnects forever, backing off to one attempt per second, so the cache recovers on its own. */
const retry = (times: number): number => Math.min(times * 100, 1000)

/** `url` with any password replaced by `***`; unparsable URLs are not echoed at all. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable redis URL)'
  }
}

/** Creates (or adopts) the client described by the options. */
export function connect(options: RedisConnectionOptions): Connection {
  const { url, cluster, client, commandTimeoutMs } = options
  const given = [url, cluster, client].filter((o) => o !== undefined).length
  if (given !== 1) {
    throw new ConfigurationError(
      'RedisStorage needs exactly one of { url }, { cluster: [{ host, port }, ...] } or { client }',
    )
  }
  if (client !== undefined) {
    if (typeof client !== 'object' || typeof client.call !== 'function') {
      throw new ConfigurationError('RedisStorage: client must be an ioredis Redis or Cluster instance')
    }
    return { client, owned: false, where: describeClient(client), lastError: undefined }
  }
  if (cluster !== undefined) {
    if (!Array.isArray(cluster) || cluster.length === 0) {
      throw new ConfigurationError('RedisStorage: cluster must be a non-empty array of { host, port }')
    }
    const created = new Cluster(
      cluster.map((n) => ({ host: n.host, port: n.port })),
      {
        clusterRetryStrategy: retry,
        enableOfflineQueue: true,
        slotsRefreshTimeout: Math.max(commandTimeoutMs, 1000),
        redisOptions: {
          connectTimeout: Math.max(commandTimeoutMs, 1000),
          autoResendUnfulfilledCommands: false,
          maxRetriesPerRequest: 1,
          ...(options.password !== undefined ? { password: options.password } : {}),
        },
      },
    )
    const where = `redis-cluster://${cluster.map((n) => `${n.host}:${n.port}`).join(',')}`
    return watch({ client: created, owned: true, where, lastError: undefined })
  }
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new ConfigurationError(
      `RedisStorage: url must look like redis://host:port, got ${redactUrl(String(url))}`,
    )
  }
  if (options.db !== undefined && (!Number.isSafeInteger(options.db) || options.db < 0)) {
    throw new ConfigurationError(`RedisStorage: db must be a non-negative integer, got ${String(options.db)}`)
  }
  const created = new Redis(url, {
    ...(options.db !== undefined ? { db: options.db } : {}),
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    retryStrategy: retry,
    lazyConnect: false,
  })
  const redacted = redactUrl(url)
  const where = options.db !== undefined ? `${redacted.replace(/\/\d*$/, '')}/${options.db}` : redacted
  return watch({ client: created, owned: true, where, lastError: undefined })
}

/** Keeps the last error of a client we own (so ioredis does not print "Unhandled error event"). */
function watch(connection: Connection): Connection {
  connection.client.on('error', (error: Error) => {
    connection.lastError = error
  })
  return connection
}

function describeClient(client: RedisClient): string {
  if (client instanceof Cluster) {
    const nodes = client.nodes('master').map((n) => `${n.options.host ?? ''}:${String(n.options.port ?? '')}`)
    return `redis-cluster://${nodes.join(',') || '(nodes not yet known)'}`
  }
  const { host, port, db } = client.options
  return `redis://${host ?? 'localhost'}:${String(port ?? 6379)}/${String(db ?? 0)}`
}

/**
 * A Lua script with its SHA1, run with EVALSHA and re-sent with EVAL when the server lacks it. Sent
 * through ioredis's `evalsha`/`eval` methods, not `call('EVALSHA', ...)`: with auto-pipelining,
 * ioredis 5 drops the command name of `callBuffer(...)` when it queues it.
 */
export class LuaScript {
  readonly sha: string

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  /** Runs the script; string replies. */
  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | Buffer)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!isNoScript(error)) throw error
      return client.eval(this.source, keys.length, ...keys, ...args)
    }
  }

  /** Runs the script; Buffer replies. */
  async runBuffer(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | Buffer)[],
  ): Promise<unknown> {
    try {
      return await (client as unknown as BufferScripting).evalshaBuffer(
        this.sha,
        keys.length,
        ...keys,
        ...args,
      )
    } catch (error) {
      if (!isNoScript(error)) throw error
      return (client as unknown as BufferScripting).evalBuffer(this.source, keys.length, ...keys, ...args)
    }
  }
}

/**
 * The Buffer-reply variants of EVALSHA/EVAL: ioredis generates them for every command (as for
 * `getBuffer`), but its type declarations omit them.
 */
interface BufferScripting {
  evalshaBuffer(sha: string, numKeys: number, ...args: (string | Buffer)[]): Promise<unknown>
  evalBuffer(source: string, numKeys: number, ...args: (string | Buffer)[]): Promise<unknown>
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT')
}

/**
 * Loads scripts on the server (on every master of a Cluster) whenever the client becomes ready, so
 * that their first EVALSHA does not fail with NOSCRIPT: the EVAL that then re-sends it would run after
 * commands sent in the meantime, out of order. Failures are ignored; the EVAL fallback remains for a
 * server that lost its scripts while connected (SCRIPT FLUSH). Returns a function that stops listening.
 */
export function preloadScripts(client: RedisClient, scripts: readonly LuaScript[]): () => void {
  const load = () => {
    const targets: Redis[] = client instanceof Cluster ? client.nodes('master') : [client]
    for (const node of targets) {
      for (const script of scripts) node.script('LOAD', script.source).catch(() => undefined)
    }
  }
  client.on('ready', load)
  if (client.status === 'ready') load()
  return () => {
    client.off('ready', load)
  }
}

/** Rejects when `promise` has not settled after `ms`; the late settlement is absorbed. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Command timed out after ${ms} ms`)), ms)
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}

/**
 * Waiting for a storage's connection, and the wording of its failures: errors name the server (never
 * its password), typed errors of this library pass through unchanged.
 */
export class ReadyWait {
  readonly #connection: Connection
  readonly #timeoutMs: number
  #pending: Promise<void> | undefined

  constructor(connection: Connection, timeoutMs: number) {
    this.#connection = connection
    this.#timeoutMs = timeoutMs
  }

  /** Waits (shared by all callers) up to the command timeout for the client to be ready. */
  wait(closed: boolean): Promise<void> {
    const client = this.#connection.client
    if (closed || client.status === 'end') {
      return Promise.reject(new Error('the connection is closed'))
    }
    if (client.status === 'wait') client.connect().catch(() => undefined)
    this.#pending ??= new Promise<void>((resolve, reject) => {
      const done = (error?: Error) => {
        clearTimeout(timer)
        client.off('ready', onReady)
        this.#pending = undefined
        if (error) reject(error)
        else resolve()
      }
      const onReady = () => done()
      const timer = setTimeout(
        () => done(this.notConnected(`still ${client.status} after ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      )
      client.on('ready', onReady)
    })
    return this.#pending
  }

  /** The error of an operation refused because the client is not connected. */
  notConnected(state: string): Error {
    const last = this.#connection.lastError
    return new Error(`not connected (${state})${last ? `: ${last.message}` : ''}`)
  }

  /** A failure as the storage reports it. */
  describe(error: unknown): unknown {
    if (
      !(error instanceof Error) ||
      error instanceof SerializationError ||
      error instanceof ConfigurationError
    ) {
      return error
    }
    if ('code' in error && typeof error.code === 'string' && error.code.startsWith('ERR_CACHEADO'))
      return error
    return new Error(`${this.#connection.where}: ${error.message}`, { cause: error })
  }
}
