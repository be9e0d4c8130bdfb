/**
 * Terminal-safe text for the CLI. Keys, scope ids and server messages come from the data, so they may
 * hold characters a terminal acts on (ESC sequences that move the cursor or rewrite the title, a
 * carriage return that overwrites the line, bidi overrides that reorder what is shown, ...). Nothing
 * from the data reaches the terminal raw: text output escapes those characters, and JSON output uses
 * JSON's own `\uXXXX` escapes, so it still parses to exactly the stored strings.
 */

/**
 * Characters never printed raw: controls (C0, DEL, C1), format characters (bidi controls, zero-width
 * characters, tags), line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu
const HAS_UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u

/** `\xNN` for code points up to U+00FF, `\uXXXX` for the rest of the BMP, `\u{XXXXX}` above it. */
function backslashEscape(char: string): string {
  const code = char.codePointAt(0)!
  const hex = code.toString(16).toUpperCase()
  if (code <= 0xff) return `\\x${hex.padStart(2, '0')}`
  return code <= 0xffff ? `\\u${hex.padStart(4, '0')}` : `\\u{${hex}}`
}

/**
 * A message for stderr: unsafe characters as `\xNN` / `\uXXXX` escapes, everything else unchanged.
 * Used for every error and warning, whose text may quote a key, an id or a server reply.
 */
export function safeMessage(text: string): string {
  return HAS_UNSAFE.test(text) ? text.replace(UNSAFE, backslashEscape) : text
}

/**
 * A storage key as the text output shows it: unchanged when it is plain, otherwise in double quotes
 * with `\"`, `\\` and the unsafe characters escaped, so that a key that needs escaping can never be
 * confused with a plain one (a plain key never starts with `"`, holds no unsafe character and is
 * neither empty nor padded with white space).
 */
export function displayKey(key: string): string {
  const plain = key !== '' && !key.startsWith('"') && !HAS_UNSAFE.test(key) && key.trim() === key
  if (plain) return key
  return `"${key.replace(/["\\]/g, (c) => `\\${c}`).replace(UNSAFE, backslashEscape)}"`
}

/**
 * Characters that JSON.stringify leaves raw inside strings but a terminal acts on. (It already escapes
 * C0 controls and lone surrogates, so outside strings only its own indentation is left: spaces and
 * `\n`, which this pattern does not match.)
 */
const JSON_UNSAFE = /[\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu

/** JSON text whose strings parse to exactly the given values, with no character a terminal acts on. */
export function safeJson(value: unknown): string {
  return JSON.stringify(value, null, 2).replace(JSON_UNSAFE, (char) => {
    let out = ''
    for (let i = 0; i < char.length; i++) {
      out += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`
    }
    return out
  })
}

/**
 * Characters percent-escaped in a printed scope path, besides the separators the storage keys escape
 * (`%`, `/`, `=`, `|`, `{`, `}`, `:`): the unsafe ones and white space, so that a printed path is one
 * shell word, shows no control character, and never blends into the columns of a table.
 */
const PATH_SPECIAL = /[%/=|{}:\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu

/**
 * One level name or id of a printed scope path: `%XX` (two uppercase hex digits) for UTF-16 code units
 * up to 0xFF, `%uXXXX` for the others. {@link unescapePathComponent} is its inverse.
 */
export function escapePathComponent(text: string): string {
  return text.replace(PATH_SPECIAL, (char) => {
    let out = ''
    for (let i = 0; i < char.length; i++) {
      const code = char.charCodeAt(i)
      const hex = code.toString(16).toUpperCase()
      out += code <= 0xff ? `%${hex.padStart(2, '0')}` : `%u${hex.padStart(4, '0')}`
    }
    return out
  })
}

const PATH_ESCAPE = /%u([0-9A-Fa-f]{4})|%([0-9A-Fa-f]{2})/g

/**
 * Inverse of {@link escapePathComponent}. Hex digits may be written in either case; a `%` that starts
 * no escape is kept as it is (a hand-written `50%off`), since a printed path always escapes `%`.
 */
export function unescapePathComponent(text: string): string {
  if (!text.includes('%')) return text
  return text.replace(PATH_ESCAPE, (_, wide: string | undefined, narrow: string | undefined) =>
    String.fromCharCode(parseInt(wide ?? narrow!, 16)),
  )
}

/**
 * What a URL may reveal in a message: the password (as written and percent-decoded), or for a text
 * that is not a URL at all, everything that could be one (between `scheme://` and the last `@`, minus
 * a user name before the first `:`). Empty strings are never returned.
 */
export function secretsOf(url: string): string[] {
  const secrets = new Set<string>()
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {
    // not a URL: the user-info part is found without a parser, below
  }
  if (parsed !== undefined) {
    secrets.add(parsed.password)
    secrets.add(safeDecode(parsed.password))
  } else {
    const start = url.includes('://') ? url.indexOf('://') + 3 : 0
    const at = url.lastIndexOf('@')
    if (at > start) {
      const userInfo = url.slice(start, at)
      const colon = userInfo.indexOf(':')
      const secret = colon === -1 ? userInfo : userInfo.slice(colon + 1)
      secrets.add(secret)
      secrets.add(safeDecode(secret))
    }
  }
  secrets.delete('')
  // The longest first, so that a secret containing another is replaced whole.
  return [...secrets].sort((a, b) => b.length - a.length)
}

/** The URL as a message may show it: its secrets (see {@link secretsOf}) replaced by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const secret of secrets) out = out.split(secret).join('***')
  return out
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/**
 * Inverse of {@link displayKey}: a key given on the command line as `inspect` shows it. A quoted key
 * (`"..."`) has its `\"`, `\\`, `\xNN`, `\uXXXX` and `\u{X...}` escapes decoded; any other text is the
 * key itself. Returns `undefined` for a quoted key with an unknown or cut escape.
 */
export function parseDisplayedKey(text: string): string | undefined {
  if (!(text.length >= 2 && text.startsWith('"') && text.endsWith('"'))) return text
  const body = text.slice(1, -1)
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const char = body[i]!
    if (char === '"') return undefined
    if (char !== '\\') {
      out += char
      continue
    }
    const next = body[i + 1]
    if (next === '"' || next === '\\') {
      out += next
      i++
      continue
    }
    const hex =
      next === 'x'
        ? /^x([0-9A-Fa-f]{2})/.exec(body.slice(i + 1))
        : /^u\{([0-9A-Fa-f]{1,6})\}|^u([0-9A-Fa-f]{4})/.exec(body.slice(i + 1))
    if (hex === null) return undefined
    const code = parseInt(hex[1] ?? hex[2]!, 16)
    if (code > 0x10ffff) return undefined
    out += String.fromCodePoint(code)
    i += hex[0].length
  }
  return out
}
