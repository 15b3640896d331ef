/**
 * GET requests to the Hugging Face and CivitAI APIs for `kiln lock`: the
 * token of a service goes only to the origin of that service's endpoint
 * (HF_ENDPOINT, default https://huggingface.co; CIVITAI_API_BASE, default
 * https://civitai.com/api/v1), never along a redirect elsewhere; 429 and 5xx
 * answers and dropped connections are retried a bounded number of times,
 * waiting what the server asks for (Retry-After, or Hugging Face's
 * `RateLimit: "api";r=0;t=<seconds>`) or a doubling delay.
 */
import { KilnError } from '../errors.ts';

export type Service = 'hf' | 'civitai';

/** Service -> its token variable, its endpoint variable and default endpoint. */
export const SERVICES: Readonly<Record<Service, { readonly token: string; readonly endpointVar: string; readonly endpoint: string; readonly name: string }>> = {
  // huggingface_hub constants: ENDPOINT https://huggingface.co, overridable with HF_ENDPOINT.
  hf: { token: 'HF_TOKEN', endpointVar: 'HF_ENDPOINT', endpoint: 'https://huggingface.co', name: 'Hugging Face' },
  // https://developer.civitai.com/site/reference/model-versions: GET /api/v1/model-versions/{id}.
  civitai: { token: 'CIVITAI_TOKEN', endpointVar: 'CIVITAI_API_BASE', endpoint: 'https://civitai.com/api/v1', name: 'CivitAI' },
};

export interface ApiOptions {
  readonly env: NodeJS.ProcessEnv;
  /** Retries of a 429, a 5xx or a dropped connection. @default 4 */
  readonly retries?: number;
  /** Longest wait before a retry, in seconds; a server asking for longer ends the run. @default 60 */
  readonly maxWaitSeconds?: number;
  /** Per request. @default 30000 */
  readonly timeoutMs?: number;
  /** Where retries are announced. @default nowhere */
  readonly log?: (line: string) => void;
}

/** An answer that is not a success, after the retries it deserved. The message never holds a token. */
export class ApiError extends KilnError {
  constructor(
    message: string,
    /** HTTP status; null when no answer came. */
    readonly status: number | null,
    /** Hugging Face's X-Error-Code (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound), when sent. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

export interface Answer {
  readonly url: string;
  readonly headers: Headers;
  readonly body: Buffer;
}

const MAX_REDIRECTS = 5;
const RETRY_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Seconds the server asks to wait: Retry-After (seconds), else HF's RateLimit `t=`. */
export function retryAfter(headers: Headers): number | null {
  const ra = headers.get('retry-after');
  if (ra !== null && /^\d+(\.\d+)?$/.test(ra.trim())) return Number(ra);
  const t = /(?:^|;)\s*t=(\d+)/.exec(headers.get('ratelimit') ?? '');
  return t ? Number(t[1]) : null;
}

export class Api {
  private readonly retries: number;
  private readonly maxWait: number;
  private readonly timeoutMs: number;

  constructor(private readonly o: ApiOptions) {
    this.retries = o.retries ?? 4;
    this.maxWait = o.maxWaitSeconds ?? 60;
    this.timeoutMs = o.timeoutMs ?? 30_000;
  }

  /** The service's base URL (no trailing "/"). */
  endpoint(service: Service): string {
    return (this.o.env[SERVICES[service].endpointVar] || SERVICES[service].endpoint).replace(/\/+$/, '');
  }

  /** Whether the service's token variable is set (for messages). */
  hasToken(service: Service): boolean {
    return Boolean(this.o.env[SERVICES[service].token]);
  }

  /** Every token value, to keep out of messages. */
  private redact(text: string): string {
    let out = text;
    for (const s of Object.values(SERVICES)) {
      const v = this.o.env[s.token];
      if (v) out = out.split(v).join('***');
    }
    return out;
  }

  private authorization(url: string, service: Service): string | undefined {
    const token = this.o.env[SERVICES[service].token];
    if (!token) return undefined;
    return new URL(url).origin === new URL(this.endpoint(service)).origin ? `Bearer ${token}` : undefined;
  }

  /** GET with the retries above; the body is read whole (at most `maxBytes`). */
  async get(url: string, service: Service, maxBytes = 64 * 1024 * 1024): Promise<Answer> {
    for (let attempt = 0; ; attempt++) {
      let waitFor: number | null = null;
      let why: string;
      try {
        const a = await this.once(url, service, maxBytes);
        if ('body' in a) return a;
        if (!(a.status === 429 || a.status >= 500)) {
          const code = a.headers.get('x-error-code');
          const detail = a.headers.get('x-error-message');
          throw new ApiError(this.redact(`HTTP ${a.status} from ${a.url}${code ? ` (${code}${detail ? `: ${detail}` : ''})` : ''}`), a.status, code);
        }
        waitFor = retryAfter(a.headers);
        why = a.status === 429 ? `rate limited (HTTP 429)` : `HTTP ${a.status}`;
        if (attempt >= this.retries || (waitFor !== null && waitFor > this.maxWait)) {
          const asked = waitFor !== null ? `; the server asks to wait ${waitFor} s` : '';
          throw new ApiError(this.redact(`${why} from ${a.url} after ${attempt} ${attempt === 1 ? 'retry' : 'retries'}${asked}`), a.status, null);
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        const e = err as Error & { cause?: { code?: string } };
        const code = e.cause?.code ?? (e.name === 'TimeoutError' ? 'ETIMEDOUT' : undefined);
        const what = e.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : `${code ?? e.name}: ${e.cause instanceof Error ? e.cause.message : e.message}`;
        if (!code || !RETRY_CODES.has(code) || attempt >= this.retries) {
          throw new ApiError(this.redact(`cannot reach ${url} (${what}); check the network or ${SERVICES[service].endpointVar}`), null, null);
        }
        why = what;
      }
      const delay = Math.min(this.maxWait, waitFor ?? 2 ** attempt);
      this.o.log?.(this.redact(`kiln lock: ${why} from ${url}; retry ${attempt + 1}/${this.retries} in ${delay} s`));
      await sleep(delay * 1000);
    }
  }

  /** One request, following redirects by hand so the token never leaves its origin. */
  private async once(url: string, service: Service, maxBytes: number): Promise<Answer | { url: string; status: number; headers: Headers }> {
    let at = url;
    for (let hop = 0; ; hop++) {
      const auth = this.authorization(at, service);
      const res = await fetch(at, {
        redirect: 'manual',
        headers: { Accept: 'application/json', 'User-Agent': 'kiln-lock', ...(auth ? { Authorization: auth } : {}) },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location && hop < MAX_REDIRECTS) {
        await res.body?.cancel();
        at = new URL(location, at).href;
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel();
        return { url: at, status: res.status, headers: res.headers };
      }
      const length = Number(res.headers.get('content-length') ?? 0);
      if (length > maxBytes) {
        await res.body?.cancel();
        throw new ApiError(`${at} answered ${length} bytes, more than the ${maxBytes} expected`, res.status, null);
      }
      const body = Buffer.from(await res.arrayBuffer());
      if (body.length > maxBytes) throw new ApiError(`${at} answered ${body.length} bytes, more than the ${maxBytes} expected`, res.status, null);
      return { url: at, headers: res.headers, body };
    }
  }
}
