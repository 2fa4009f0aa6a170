// Removes passwords from anything we print, log or store: one helper every message goes through.

const URI_WITH_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@\s]*)@/gi;
const PASSWORD_PARAM = /([?&]password=)[^&\s]*/gi;
const KEYWORD_PASSWORD = /\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'][^\s&]*)/gi;

/** Every secret we know of for this run, so messages from drivers that echo them can be cleaned too. */
const knownSecrets = new Set<string>();

/** Remembers a password so that `redact` removes it wherever it shows up, even outside a URI. */
export function registerSecret(secret: string | undefined | null): void {
  if (secret && secret.length >= 3) knownSecrets.add(secret);
}

/** Returns `text` with every password removed: URI userinfo, `password=` parameters, known secrets. */
export function redact(text: string): string {
  let out = text
    .replace(URI_WITH_PASSWORD, '$1***@')
    .replace(PASSWORD_PARAM, '$1***')
    .replace(KEYWORD_PASSWORD, '$1***');
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret && out.includes(encoded)) out = out.split(encoded).join('***');
  }
  return out;
}
