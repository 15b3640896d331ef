/**
 * What a secret looks like, by the variable's name and by the value's
 * format. Template `env` is baked into image layers, so anything matching
 * here is refused there (an empty value, a placeholder for the pod's own
 * setting, is allowed).
 */

/**
 * Words of a variable name (split on `_`) that mark a secret. Sources: the
 * keyword lists of secret scanners (Yelp/detect-secrets `KeywordDetector`:
 * password, passwd, pwd, secret, api_?key, private_?key, db_?pass, ...) and the names
 * of this project's own secrets (HF_TOKEN, CIVITAI_TOKEN, RUNPOD_API_KEY,
 * FILEBROWSER_PASSWORD, JUPYTER_TOKEN).
 */
export const SECRET_NAME_WORDS: readonly string[] = [
  'TOKEN',
  'TOKENS',
  'SECRET',
  'SECRETS',
  'PASSWORD',
  'PASSWD',
  'PASSPHRASE',
  'PWD',
  'PAT',
  'APIKEY',
  'CREDENTIAL',
  'CREDENTIALS',
];

/** A name that ends in one of these words is a secret: `*_KEY`, `ACCESS_KEY`, `SECRET_ACCESS_KEY`, `DB_PASS`. */
export const SECRET_NAME_LAST_WORDS: readonly string[] = ['KEY', 'PASS'];

/** Words containing PASS that are not about passwords. */
const NOT_PASS = new Set(['BYPASS', 'PASSTHROUGH', 'COMPASS']);

/** Names that match the rules above but hold no secret: start.sh reads the SSH *public* key from PUBLIC_KEY. */
export const NOT_SECRET_NAMES: ReadonlySet<string> = new Set(['PUBLIC_KEY']);

/** Why `name` looks like a secret's name, or null. */
export function secretName(name: string): string | null {
  const upper = name.toUpperCase();
  if (NOT_SECRET_NAMES.has(upper)) return null;
  const words = upper.split('_').filter(Boolean);
  const word = words.find((w) => SECRET_NAME_WORDS.includes(w));
  if (word) return `its name contains ${word}`;
  const last = words.at(-1);
  if (last && SECRET_NAME_LAST_WORDS.includes(last)) return `its name ends in ${last}`;
  const pass = words.find((w) => w.includes('PASS') && !NOT_PASS.has(w));
  if (pass) return `its name contains ${pass}`;
  return null;
}

/**
 * Token formats with a telltale prefix. Source: gitleaks' default rules
 * (github.com/gitleaks/gitleaks config/gitleaks.toml, ids in brackets) unless
 * noted; a rule here may be looser than gitleaks' (a prefix and a length),
 * since a false alarm costs a rename while a miss bakes a key into an image.
 */
export const TOKEN_FORMATS: readonly { readonly name: string; readonly pattern: RegExp }[] = [
  // [huggingface-access-token], [huggingface-organization-api-token]
  { name: 'a Hugging Face token (hf_...)', pattern: /\bhf_[A-Za-z]{34}\b/ },
  { name: 'a Hugging Face organization token (api_org_...)', pattern: /\bapi_org_[A-Za-z]{34}\b/ },
  // [github-pat], [github-oauth], [github-app-token]; GitHub's token prefixes (ghp_, gho_, ghu_, ghs_, ghr_).
  { name: 'a GitHub token (ghp_/gho_/ghu_/ghs_/ghr_...)', pattern: /\bgh[pousr]_[0-9A-Za-z]{36}\b/ },
  // [github-fine-grained-pat]
  { name: 'a GitHub fine-grained token (github_pat_...)', pattern: /\bgithub_pat_\w{82}\b/ },
  // OpenAI / Anthropic secret keys start with "sk-" ([openai-api-key], [anthropic-api-key] are stricter).
  { name: 'an API secret key (sk-...)', pattern: /\bsk-[A-Za-z0-9_-]{20,}/ },
  // [aws-access-token]
  { name: 'an AWS access key id (AKIA...)', pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b/ },
  // [slack-bot-token], [slack-user-token] and Slack's other xox? token types (api.slack.com "Token types").
  { name: 'a Slack token (xox?-...)', pattern: /\bxox[abeoprs]-[0-9A-Za-z-]{10,}/ },
  // [gitlab-pat]
  { name: 'a GitLab token (glpat-...)', pattern: /\bglpat-[\w-]{20}/ },
  // [gcp-api-key]
  { name: 'a Google API key (AIza...)', pattern: /\bAIza[\w-]{35}/ },
  // [npm-access-token]
  { name: 'an npm token (npm_...)', pattern: /\bnpm_[A-Za-z0-9]{36}\b/ },
  // [private-key]
  { name: 'a private key block', pattern: /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----/ },
];

/** What kind of token `value` contains, or null. */
export function tokenIn(value: string): string | null {
  return TOKEN_FORMATS.find((f) => f.pattern.test(value))?.name ?? null;
}
