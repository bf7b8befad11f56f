/** The demo's own description of what it runs (`/demo/config.json`): preset targets, routes and proxies. */
export interface DemoConfig {
  targets: Array<{ name: string; host: string; port: number; mode: 'line' | 'raw'; about: string }>;
  routes: Array<{ name: string; label: string }>;
  udpTargets: Array<{ name: string; host: string; port: number; about: string }>;
  /** `methods`: the SOCKS5 methods the server accepts, most preferred first. */
  proxies: Array<{ name: string; host: string; port: number; methods?: number[] }>;
}

export const EMPTY_CONFIG: DemoConfig = { targets: [], udpTargets: [], routes: [{ name: '', label: 'direct' }], proxies: [] };

/** The demo's config, or an empty one when the page is served by something else. */
export function loadConfig(): Promise<DemoConfig> {
  return fetch('/demo/config.json')
    .then((r) => (r.ok ? (r.json() as Promise<DemoConfig>) : EMPTY_CONFIG))
    .catch(() => EMPTY_CONFIG);
}
