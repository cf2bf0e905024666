/**
 * Leaflet, ready for a bundler: its default marker images are resolved by Vite (Leaflet's own
 * lookup through the CSS path breaks once bundled). Import Leaflet from here:
 *
 *   import { L } from "../../lib/leaflet";
 *   const map = L.map(element).setView(config.defaultCenter, config.defaultZoom);
 *
 * Tiles: only when loadConfig() gives a tileUrl (no tile server is reachable in tests).
 */
import L from "leaflet";
import iconRetinaUrl from "leaflet/dist/images/marker-icon-2x.png";
import iconUrl from "leaflet/dist/images/marker-icon.png";
import shadowUrl from "leaflet/dist/images/marker-shadow.png";

delete (L.Icon.Default.prototype as unknown as { _getIconUrl?: unknown })._getIconUrl;
L.Icon.Default.mergeOptions({ iconRetinaUrl, iconUrl, shadowUrl });

export { L };
