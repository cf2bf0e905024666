/** Runtime configuration, served by the gateway at /config.json (absent: safe defaults). */
export interface AppConfig {
  tileUrl: string | null;
  tileAttribution: string | null;
  defaultCenter: [number, number];
  defaultZoom: number;
}

export const DEFAULT_CONFIG: AppConfig = {
  tileUrl: null,
  tileAttribution: null,
  defaultCenter: [12.9716, 77.5946], // Bengaluru
  defaultZoom: 12,
};

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** Merges what the server sent over the defaults, ignoring anything malformed. */
export function parseConfig(raw: unknown): AppConfig {
  if (typeof raw !== "object" || raw === null) return DEFAULT_CONFIG;
  const r = raw as Record<string, unknown>;
  const c = r.defaultCenter;
  const center: [number, number] =
    Array.isArray(c) && c.length === 2 && c.every((n) => typeof n === "number" && Number.isFinite(n))
      ? [c[0] as number, c[1] as number]
      : DEFAULT_CONFIG.defaultCenter;
  const zoom = typeof r.defaultZoom === "number" && Number.isFinite(r.defaultZoom) ? r.defaultZoom : DEFAULT_CONFIG.defaultZoom;
  return {
    tileUrl: str(r.tileUrl),
    tileAttribution: str(r.tileAttribution),
    defaultCenter: center,
    defaultZoom: zoom,
  };
}

let cached: Promise<AppConfig> | null = null;

/** GET /config.json once per page; defaults on 404, a network error or a timeout (5 s). */
export function loadConfig(): Promise<AppConfig> {
  cached ??= (async () => {
    try {
      const response = await fetch("/config.json", { signal: AbortSignal.timeout(5000), headers: { Accept: "application/json" } });
      if (!response.ok) return DEFAULT_CONFIG;
      return parseConfig(await response.json());
    } catch {
      return DEFAULT_CONFIG;
    }
  })();
  return cached;
}

/** For tests. */
export function resetConfigCache(): void {
  cached = null;
}
