/**
 * The intrusive doubly linked lists of the in-memory store's list policies (LRU, insertion order),
 * oldest first. Policy 0 links through `prev`/`next` on the entry; policy i > 0 through
 * `more[2i - 2]` (prev) and `more[2i - 1]` (next), so an entry under one policy costs two fields.
 */

/** What an entry carries to be linked. */
export interface Linked<E> {
  prev: E | null
  next: E | null
  more: (E | null)[] | null
}

/** One list: its ends, its length and the sum of its entries' sizes (byte budgets). */
export interface ListGroup<E> {
  head: E | null
  tail: E | null
  size: number
  /** Sum of the linked entries' `bytes`. */
  bytes: number
}

export function prevOf<E extends Linked<E>>(entry: E, policy: number): E | null {
  return policy === 0 ? entry.prev : entry.more![2 * policy - 2]!
}

export function nextOf<E extends Linked<E>>(entry: E, policy: number): E | null {
  return policy === 0 ? entry.next : entry.more![2 * policy - 1]!
}

export function setPrev<E extends Linked<E>>(entry: E, policy: number, value: E | null): void {
  if (policy === 0) entry.prev = value
  else entry.more![2 * policy - 2] = value
}

export function setNext<E extends Linked<E>>(entry: E, policy: number, value: E | null): void {
  if (policy === 0) entry.next = value
  else entry.more![2 * policy - 1] = value
}

export function append<E extends Linked<E>>(group: ListGroup<E>, entry: E, policy: number): void {
  setPrev(entry, policy, group.tail)
  setNext(entry, policy, null)
  if (group.tail === null) group.head = entry
  else setNext(group.tail, policy, entry)
  group.tail = entry
  group.size++
}

export function unlink<E extends Linked<E>>(group: ListGroup<E>, entry: E, policy: number): void {
  const prev = prevOf(entry, policy)
  const next = nextOf(entry, policy)
  if (prev === null) group.head = next
  else setNext(prev, policy, next)
  if (next === null) group.tail = prev
  else setPrev(next, policy, prev)
  setPrev(entry, policy, null)
  setNext(entry, policy, null)
  group.size--
}
