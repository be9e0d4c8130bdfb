import type { ChildProcess } from 'node:child_process'
import { spawn } from 'node:child_process'
import { Redis } from 'ioredis'
import { redisServerBin, sleep } from './services.js'

/**
 * Starts a redis-server of a test's own on 127.0.0.1:`port` (no persistence, DEBUG allowed, so a test
 * can stall it with DEBUG SLEEP) and waits until it answers. Stop it with {@link stopRedis}.
 */
export async function startRedis(port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn(redisServerBin, [...args, '--enable-debug-command', 'yes'], { stdio: 'ignore' })
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  })
  probe.on('error', () => undefined)
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect()
      await probe.ping()
      probe.disconnect()
      return child
    } catch {
      await sleep(50)
    }
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server did not start on port ${port}`)
}

/** Kills a server started by {@link startRedis} (this process's child, by PID) and waits for its exit. */
export function stopRedis(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}
