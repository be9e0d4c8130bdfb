/** A command line that cannot work (unknown option, missing argument, ...): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}
