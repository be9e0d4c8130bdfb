/** A Node process that runs a test fixture and answers commands over stdin/stdout (one JSON per line). */
import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/**
 * A running fixture process. The fixture prints `{ ready: true }` once it is ready, then answers each
 * command `{ op, id, ... }` with `{ id, result }` or `{ id, error }`; `{ op: 'close' }` answers
 * `{ unhandled }` (the unhandled rejections it saw) and exits.
 */
export class RpcPeer {
  readonly #child: ChildProcess
  readonly #waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  #next = 0
  #stderr = ''
  /** Resolves once the fixture said it is ready; rejects if it exits first. */
  readonly ready: Promise<void>

  constructor(script: string, env: Record<string, string>) {
    this.#child = spawn(process.execPath, ['--import', 'tsx', script], {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.#child.stderr!.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()))
    let markReady!: () => void
    let failReady!: (e: Error) => void
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve
      failReady = reject
    })
    this.#child.on('exit', (code) => {
      const error = new Error(`peer exited with ${code}: ${this.#stderr}`)
      failReady(error)
      for (const waiting of this.#waiting.values()) waiting.reject(error)
      this.#waiting.clear()
    })
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const message = JSON.parse(line) as { ready?: boolean; id?: number; result?: unknown; error?: string }
      if (message.ready) return markReady()
      const waiting = this.#waiting.get(message.id!)
      this.#waiting.delete(message.id!)
      if (message.error !== undefined) waiting?.reject(new Error(message.error))
      else waiting?.resolve(message.result)
    })
  }

  /** Sends one command and resolves its result (rejects with the peer's error message). */
  send<T = Record<string, unknown>>(command: Record<string, unknown>): Promise<T> {
    const id = this.#next++
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.#child.stdin!.write(`${JSON.stringify({ ...command, id })}\n`)
    })
  }

  /** Closes the peer's cache; resolves the unhandled rejections it saw. */
  async close(): Promise<string[]> {
    if (this.#child.exitCode !== null) return []
    const exited = new Promise((resolve) => this.#child.once('exit', resolve))
    const { unhandled } = await this.send<{ unhandled: string[] }>({ op: 'close' })
    await exited
    return unhandled
  }

  /** Kills the process (a test that failed half-way). */
  kill(): void {
    if (this.#child.exitCode === null) this.#child.kill('SIGKILL')
  }
}
