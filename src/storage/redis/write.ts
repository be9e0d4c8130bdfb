import type { BoundPolicy, BusMessage, StorageContext } from '../contract.js'
import { checkEntryFits } from '../byte-budget.js'
import { decodeEntryRef } from '../key-encoding.js'
import { encodeMessage, registryOf } from './bus.js'
import type { LuaScript, RedisClient } from './connection.js'
import type { RedisEvictions } from './evict.js'
import { makeFence, scopeFields } from './fence.js'
import type { RedisWriteFence } from './fence.js'
import type { RedisKeys } from './keys.js'
import type { TagRegistry } from './registry.js'
import { FENCE_READ, WRITE, WRITE_BATCH, WRITE_BROADCAST, WRITE_PUBLISH } from './scripts.js'

/** Attempts of a write whose tag must be registered first (another process may empty it meanwhile). */
const REGISTER_ATTEMPTS = 3

/** A write of the batch script: `group` is its tag, `keys` what `RedisKeys.writeKeys` gives. */
export interface BatchedWrite {
  readonly group: string
  readonly member: string
  readonly bytes: Buffer
  readonly ttl: string
  readonly keys: readonly string[]
  /** The entry's labels (user tags) joined by newlines, `''` for none (see `labels.ts`). */
  readonly labels: string
}
/** A write script that also publishes a bus message, with its extra arguments. */
export interface Notice {
  readonly script: LuaScript
  readonly args: readonly string[]
}

/** What {@link RedisWrites} needs of its storage (read at each call: bounds come with `attach`). */
export interface WriteHost {
  readonly client: RedisClient
  readonly keys: RedisKeys
  readonly registry: TagRegistry
  readonly evictions: RedisEvictions
  readonly isCluster: boolean
  /** The bus channel (`<prefix>:bus`). */
  readonly channel: string
  timed<T>(promise: Promise<T>): Promise<T>
  header(): readonly string[]
  bounds(): readonly BoundPolicy[]
  /** A bound has `maxBytes`: writes are checked against the budgets before they are sent. */
  measuresBytes(): boolean
  clusterWide(): boolean
  report: StorageContext['onEvicted']
}

/**
 * The writing side of the Redis storage, once arguments are checked and encoded: the write scripts
 * (single, batched, publishing, fenced), the registration of new tags they ask for (see
 * `registry.ts`), and fences (see `fence.ts`).
 */
export class RedisWrites {
  readonly #host: WriteHost

  constructor(host: WriteHost) {
    this.#host = host
  }

  /**
   * A snapshot of the evictions covering `member` (see `fence.ts`): one script on the tag's slot
   * (standalone: it reads the cache-wide generation too; Cluster: a GET on the registry's slot, sent
   * at the same time).
   */
  async fence(member: string): Promise<RedisWriteFence> {
    const tag = this.#host.keys.tagOfMember(member)
    const base = this.#host.keys.base(tag)
    const fields = [...scopeFields(member), member]
    if (!this.#host.isCluster) {
      const keys = [`${base}f`, `${base}r`, this.#host.registry.global]
      const reply = (await this.#host.timed(FENCE_READ.run(this.#host.client, keys, fields))) as unknown[]
      return makeFence(member, reply, fields.length)
    }
    const read = this.#host.timed(FENCE_READ.run(this.#host.client, [`${base}f`, `${base}r`], fields))
    const [reply, global] = await Promise.all([read as Promise<unknown[]>, this.#host.registry.readGlobal()])
    return makeFence(member, reply, fields.length, global)
  }

  /** The script and extra arguments that publish `message` from a write script. */
  notice(message: BusMessage): Notice {
    const text = encodeMessage(message)
    return this.#host.isCluster
      ? { script: WRITE_PUBLISH, args: [this.#host.channel, text] }
      : {
          script: WRITE_BROADCAST,
          args: [registryOf(this.#host.channel), this.#host.channel, text, message.origin],
        }
  }

  /**
   * A write that runs its own script: with bounds (they decide per entry), with a bus notice, or with a
   * fence; resolves whether it stored (always, without a fence). A new tag is registered (see
   * `registry.ts`): by a fenced write before it writes, on the condition that the cache-wide
   * generation is still the fence's; by a plain one in its script (standalone) or right after (Cluster).
   */
  async write(
    member: string,
    bytes: Buffer,
    ttl: string,
    notice: Notice | undefined,
    fence: RedisWriteFence | undefined,
    labels: string,
  ): Promise<boolean> {
    if (this.#host.measuresBytes())
      checkEntryFits(this.#host.bounds(), decodeEntryRef(member).scope, bytes.length)
    const keys = this.#host.keys.writeKeys(member)
    const tag = this.#host.keys.tagOfMember(member)
    const base = this.#host.keys.base(tag)
    const script = notice === undefined ? WRITE : notice.script
    let creation = ''
    let packed = fence?.packed ?? ''
    let remarks = 0
    for (let attempt = 1; ; attempt++) {
      const args = [...this.#host.header(), member, bytes, ttl, base, creation, packed, labels]
      if (notice !== undefined) args.push(...notice.args)
      const reply = (await this.#host.timed(script.run(this.#host.client, keys, args))) as (number | string)[]
      const [fresh, status, expired, when] = reply
      if (status === -1) return false
      if (status === -3) {
        // The tag was registered since the fence (another first write of the tenant): the write still
        // holds unless a clear() started since the fence (it may have missed the tag, see fence.ts).
        packed = await this.#remarked(fence!, packed, String(reply[2]), ++remarks)
        if (packed === '') return false
        continue
      }
      if (status === -2) {
        creation = await this.#mustRegister(tag, attempt, fence)
        if (creation === '') return false
        continue
      }
      if (status === 1) await this.#host.registry.confirm(tag)
      if (expired !== 0) this.#host.report('expired', Number(expired))
      const victims = this.#host.evictions.reportVictims(reply, 4)
      if (this.#host.clusterWide())
        await this.#host.evictions.admitWide(victims, member, String(when), fresh === 1, bytes.length)
      return true
    }
  }

  /**
   * A fence's packed text with the tag's current creation id `made` in place of the one it saw, when the
   * cache-wide generation is still the fence's (no `clear()` started since it was taken); `''` when one
   * did. Fails after {@link REGISTER_ATTEMPTS} attempts (the tag keeps being emptied and re-created).
   */
  async #remarked(fence: RedisWriteFence, packed: string, made: string, attempt: number): Promise<string> {
    if (attempt > REGISTER_ATTEMPTS) {
      throw new Error(
        `the tenant ${this.#host.keys.tagOfMember(fence.member)} was emptied and re-created by other processes during ${REGISTER_ATTEMPTS} writes`,
      )
    }
    if ((await this.#host.registry.readGlobal()) !== fence.global) return ''
    const time = packed.indexOf(',')
    const generations = packed.indexOf(',', time + 1)
    return `${packed.slice(0, time + 1)}${made}${generations === -1 ? '' : packed.slice(generations)}`
  }

  /**
   * Registers a tag that a write found without marker; `''` when a fence's cache-wide generation
   * changed (a `clear()` started since the fence). Fails after {@link REGISTER_ATTEMPTS} attempts.
   */
  async #mustRegister(tag: string, attempt: number, fence: RedisWriteFence | undefined): Promise<string> {
    if (attempt > REGISTER_ATTEMPTS) {
      throw new Error(`the tenant ${tag} was emptied by other processes during ${REGISTER_ATTEMPTS} writes`)
    }
    return (await this.#host.registry.register(tag, fence?.global)) ?? ''
  }

  /**
   * Writes entries of one tag with one script; a new tag is then registered (see `registry.ts`).
   */
  async writeBatch(writes: readonly BatchedWrite[]): Promise<void> {
    const tag = writes[0]!.group
    const keys = [this.#host.keys.rootIndex(tag), `${this.#host.keys.base(tag)}r`]
    const args: (string | Buffer)[] = [...this.#host.header(), String(writes.length)]
    for (const write of writes) {
      // writeKeys: data key, root index, deeper indexes; the root index is KEYS[1] already.
      keys.push(write.keys[0]!)
      for (let i = 2; i < write.keys.length; i++) keys.push(write.keys[i]!)
      args.push(write.member, write.bytes, write.ttl, String(write.keys.length - 2), write.labels)
    }
    const [register, expired] = (await this.#host.timed(
      WRITE_BATCH.run(this.#host.client, keys, args),
    )) as number[]
    if (register === 1) await this.#host.registry.confirm(tag)
    if (expired !== 0) this.#host.report('expired', Number(expired))
  }
}
