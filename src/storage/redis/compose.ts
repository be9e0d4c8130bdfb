/**
 * Lua scripts assembled from named fragments, checked when the module loads.
 *
 * A script that is derived from another by editing its text (a regex on its ending, say) breaks
 * silently when that text changes: the fused write would stop publishing and nothing would fail.
 * Scripts are therefore built by concatenating fragments, each of which states the Lua names it
 * declares for later fragments (`defines`) and the names it expects an earlier one to have declared
 * (`uses`). {@link composeLua} throws at module load (so at import time, in every test run) when:
 * - a fragment uses a name no earlier fragment of the script defines;
 * - a fragment claims to define or use a name its source does not mention;
 * - a fragment other than the last ends with a `return` (Lua allows `return` only as the last
 *   statement of a block, and the fragments after it would be dead or a syntax error);
 * - the last fragment does not end the script with a `return`.
 * The source is the fragments' text joined as is, so a composed script is byte for byte the script
 * one would have written by hand (same SHA for `EVALSHA`).
 */

/** A named piece of Lua source (see the module's doc comment for `defines` / `uses`). */
export interface LuaFragment {
  /** Names the fragment in error messages and in {@link ComposedLua.parts}. */
  readonly name: string
  /** The Lua text, concatenated as is. */
  readonly source: string
  /** Locals and functions this fragment declares for the fragments after it. */
  readonly defines: readonly string[]
  /** Names this fragment expects an earlier fragment of the same script to define. */
  readonly uses: readonly string[]
}

/** A script assembled by {@link composeLua}. */
export interface ComposedLua {
  /** The script's name, for error messages and tests. */
  readonly name: string
  /** The whole Lua source. */
  readonly source: string
  /** The names of its fragments, in order. */
  readonly parts: readonly string[]
}

const mentions = (source: string, name: string): boolean =>
  new RegExp(`(^|[^A-Za-z0-9_])${name}([^A-Za-z0-9_]|$)`).test(source)

/** The last line of `source` that holds something other than white space. */
const lastLine = (source: string): string => source.trimEnd().split('\n').pop()!.trim()

/**
 * A fragment. Throws when it claims a name its source never mentions (a stale declaration would make
 * the composition check meaningless).
 */
export function luaFragment(
  name: string,
  source: string,
  names: { readonly defines?: readonly string[]; readonly uses?: readonly string[] } = {},
): LuaFragment {
  const defines = names.defines ?? []
  const uses = names.uses ?? []
  if (source.trim() === '') throw new Error(`Lua fragment ${name}: empty source`)
  for (const each of [...defines, ...uses]) {
    if (!mentions(source, each)) {
      throw new Error(`Lua fragment ${name}: declares '${each}' but its source never mentions it`)
    }
  }
  return { name, source, defines, uses }
}

/**
 * Joins fragments into one script, checking that every fragment finds the names it uses in an earlier
 * fragment and that exactly the last one ends the script with its `return`. Throws otherwise, which
 * fails the import of the module that builds the script.
 */
export function composeLua(name: string, fragments: readonly LuaFragment[]): ComposedLua {
  if (fragments.length === 0) throw new Error(`Lua script ${name}: no fragments`)
  const defined = new Set<string>()
  const seen = new Set<string>()
  fragments.forEach((fragment, index) => {
    if (seen.has(fragment.name)) throw new Error(`Lua script ${name}: fragment ${fragment.name} twice`)
    seen.add(fragment.name)
    for (const used of fragment.uses) {
      if (!defined.has(used)) {
        throw new Error(
          `Lua script ${name}: fragment ${fragment.name} uses '${used}', which no fragment before it defines`,
        )
      }
    }
    for (const each of fragment.defines) defined.add(each)
    const last = index === fragments.length - 1
    const returns = /^return\b/.test(lastLine(fragment.source))
    if (!last && returns) {
      throw new Error(
        `Lua script ${name}: fragment ${fragment.name} ends with a return, so the fragments after it never run`,
      )
    }
    if (last && !returns) {
      throw new Error(
        `Lua script ${name}: its last fragment ${fragment.name} must end the script with a return`,
      )
    }
  })
  return { name, source: fragments.map((f) => f.source).join(''), parts: fragments.map((f) => f.name) }
}
