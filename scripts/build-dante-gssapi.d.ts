/** Types of scripts/build-dante-gssapi.js (plain JS so that `npm test`'s system-deps step runs it before any build). */
export interface DanteGssapi {
  /** The cache directory of this build. */
  dir: string;
  /** Dante's server, with GSS-API. */
  sockd: string;
  /** Dante's client library, for LD_PRELOAD (what Debian's `socksify` does). */
  libdsocks: string;
}
/** Where builds are cached: $WSOCKS_CACHE_DIR, or ~/.cache/wsocks. */
export function cacheRoot(): string;
/** The newest complete cached build, or undefined. */
export function findDanteGssapi(): DanteGssapi | undefined;
/** The cached build, built first (minutes) if there is none; throws with the reason when it cannot be built. */
export function ensureDanteGssapi(log?: (line: string) => void): DanteGssapi;
