import { storageTimeout } from '../../errors.js'
import type { Serializer } from '../../serializers/contract.js'
import { MISS } from '../contract.js'
import type { QueuedOp } from './batch.js'
import { groupRun, OpQueue } from './batch.js'
import type { Connection, RedisClient } from './connection.js'
import { ReadyWait } from './connection.js'
import { Deadlines } from './deadlines.js'
import type { BatchedWrite } from './write.js'

/** At most this many coalesced reads per `MGET`, or writes per batch script. */
const COALESCE_LIMIT = 256

/** A read or write waiting in the coalescing queue; `group` is its hash-slot group. */
type Coalesced = { readonly group: string; readonly data: string } | BatchedWrite
type CoalescedOp = QueuedOp<'read' | 'write', Coalesced>

/** What {@link RedisExecutor} needs of its storage. */
export interface ExecutorOptions {
  readonly connection: Connection
  readonly timeoutMs: number
  /** Whether to auto-pipeline while other operations are in flight (clients we create only). */
  readonly pipelineWhenBusy: boolean
  /** Decodes the value of a lone `GET` (see {@link RedisExecutor.getAlone}). */
  readonly serializer: Serializer
  /** Sends one batch script for `writes` (see `RedisWrites.writeBatch`). */
  writeBatch(writes: readonly BatchedWrite[]): Promise<void>
}

/**
 * How the Redis storage sends its commands: every operation runs through {@link RedisExecutor.exec}
 * (connection wait, error wording, auto-pipelining while busy), every command through
 * {@link RedisExecutor.timed} (the command timeout), and the reads and writes of one tick are
 * coalesced (`batch.ts`) unless an operation starts alone ({@link RedisExecutor.startAlone}).
 */
export class RedisExecutor {
  readonly #client: RedisClient
  /** Waits for the connection and words connection errors (see `connection.ts`). */
  readonly #ready: ReadyWait
  readonly #deadlines: Deadlines
  readonly #pipelineWhenBusy: boolean
  readonly #serializer: Serializer
  readonly #writeBatch: (writes: readonly BatchedWrite[]) => Promise<void>
  /** Operations of this storage under way. */
  #inFlight = 0
  #closed = false
  /** Reads and writes of the current tick, sent together on the next (see `batch.ts`). */
  readonly #queue = new OpQueue<'read' | 'write', Coalesced>((kind, run) =>
    this.#withoutAutoPipelining(() => (kind === 'read' ? this.#sendReads(run) : this.#sendWrites(run))),
  )

  constructor(options: ExecutorOptions) {
    const timeout = options.timeoutMs
    this.#client = options.connection.client
    this.#ready = new ReadyWait(options.connection, timeout)
    this.#deadlines = new Deadlines(timeout, () =>
      storageTimeout('redis', 'command', 'commandTimeoutMs', timeout),
    )
    this.#pipelineWhenBusy = options.pipelineWhenBusy
    this.#serializer = options.serializer
    this.#writeBatch = options.writeBatch
  }

  /** Whether {@link RedisExecutor.close} was called: operations then fail at once. */
  get closed(): boolean {
    return this.#closed
  }

  /** Fails every later operation and stops the command timer. */
  close(): void {
    this.#closed = true
    this.#deadlines.stop()
  }

  /** `promise`, rejected after the command timeout (one timer for all commands: `deadlines.ts`). */
  readonly timed = <T>(promise: Promise<T>): Promise<T> => this.#deadlines.race(promise)

  /**
   * Starts an operation as the only one in flight, if it is (nothing queued, connection ready): it
   * may then send its command directly, without auto-pipelining, with {@link RedisExecutor.getAlone}
   * or {@link RedisExecutor.writeAlone}, which end it. Otherwise it goes through `exec`.
   */
  startAlone(): boolean {
    if (this.#inFlight !== 0 || this.#client.status !== 'ready') return false
    this.#inFlight = 1
    if (this.#pipelineWhenBusy) this.#client.options.enableAutoPipelining = false
    return true
  }

  /** The lone `GET` of a started-alone read: the decoded value or `MISS`. */
  getAlone(data: string): Promise<unknown> {
    return this.#deadlines.race(this.#client.getBuffer(data)).then(this.#gotAlone, this.#failedAlone)
  }

  /** The batch of one of a started-alone write. */
  writeAlone(write: BatchedWrite): Promise<void> {
    return this.#writeBatch([write]).then(this.#wroteAlone, this.#failedAlone)
  }

  /** Settles a lone GET (bound once, so that a read allocates no closures). */
  readonly #gotAlone = (found: Buffer | null): unknown => {
    this.#inFlight--
    return found === null ? MISS : this.#serializer.deserialize(found)
  }

  readonly #wroteAlone = (): void => {
    this.#inFlight--
  }

  readonly #failedAlone = (error: unknown): never => {
    this.#inFlight--
    throw this.#ready.describe(error)
  }

  /** A read while others are in flight: coalesced with the reads of this tick (`batch.ts`). */
  read(group: string, data: string): Promise<Buffer | null> {
    return this.exec(
      () =>
        this.#inFlight === 1
          ? this.timed(this.#client.getBuffer(data))
          : this.#queue.push('read', { group, data }),
      true,
    ) as Promise<Buffer | null>
  }

  /** A write while others are in flight: coalesced with the writes of this tick (`batch.ts`). */
  write(write: BatchedWrite): Promise<unknown> {
    return this.exec(
      () => (this.#inFlight === 1 ? this.#writeBatch([write]) : this.#queue.push('write', write)),
      true,
    )
  }

  /**
   * Runs an operation once the client is connected, naming the server (never its password) on failure.
   * With `autoPipelining` (clients we create only), an operation that starts while others are in
   * flight has its commands queued and sent together with theirs on the next turn of the event loop;
   * one that starts alone sends at once, so sequential use pays no wait. Order is kept: a command is
   * sent directly only when no other operation, hence no queued command of ours, is under way.
   * While a first connection is being made, it waits for it (up to the timeout); once a connection has
   * been lost, it fails at once until the client has reconnected, so a memoized call that falls back
   * to its function pays no timeout while Redis is down.
   */
  async exec<T>(run: () => Promise<T>, coalesced = false): Promise<T> {
    try {
      const status = this.#client.status
      if (status !== 'ready') {
        if (status === 'reconnecting' || status === 'close') throw this.#ready.notConnected(status)
        await this.#ready.wait(this.#closed)
      }
      // Coalesced operations that started earlier are sent before this one's commands.
      if (!coalesced) this.#queue.flush()
      this.#inFlight++
      if (this.#pipelineWhenBusy) this.#client.options.enableAutoPipelining = this.#inFlight > 1
      try {
        return await run()
      } finally {
        this.#inFlight--
      }
    } catch (error) {
      throw this.#ready.describe(error)
    }
  }

  /**
   * Runs `send` with ioredis's auto-pipelining off: a coalesced run is already one command per hash
   * slot, and auto-pipelining would hold it back until `setImmediate` (measured: 100 concurrent gets
   * 80k -> 106k ops/s, sets 27k -> 37k ops/s without that wait).
   */
  #withoutAutoPipelining(send: () => void): void {
    if (!this.#pipelineWhenBusy) return send()
    const options = this.#client.options
    const before = options.enableAutoPipelining
    options.enableAutoPipelining = false
    try {
      send()
    } finally {
      options.enableAutoPipelining = before
    }
  }

  /** Sends a run of coalesced reads: one `GET`, or an `MGET` per hash-slot group. */
  #sendReads(run: readonly CoalescedOp[]): void {
    if (run.length === 1) {
      const op = run[0]!
      this.timed(this.#client.getBuffer((op.payload as { data: string }).data)).then(op.resolve, op.reject)
      return
    }
    for (const group of groupRun(run, COALESCE_LIMIT)) {
      const keys = group.map((op) => (op.payload as { data: string }).data)
      this.timed(this.#client.mgetBuffer(keys)).then(
        (values) => group.forEach((op, i) => op.resolve(values[i] ?? null)),
        (error: unknown) => group.forEach((op) => op.reject(error)),
      )
    }
  }

  /** Sends a run of coalesced writes: one batch script per tag (hash slot). */
  #sendWrites(run: readonly CoalescedOp[]): void {
    for (const group of groupRun(run, COALESCE_LIMIT)) {
      this.#writeBatch(group.map((op) => op.payload as BatchedWrite)).then(
        () => group.forEach((op) => op.resolve(undefined)),
        (error: unknown) => group.forEach((op) => op.reject(error)),
      )
    }
  }
}
