/**
 * A small Leaflet map for area watches: the saved watches as circles, the one being added as a
 * dashed circle; a click picks the new centre (the latitude/longitude inputs do the same by keyboard).
 */
import { useEffect, useRef, useState } from "react";
import type { WatchView } from "../../../api/types";
import { loadConfig } from "../../../lib/config";
import { L } from "../../../lib/leaflet";

export function WatchMap({
  watches,
  pending,
  onPick,
  label,
}: {
  watches: WatchView[];
  pending: { lat: number; lon: number; radius: number } | null;
  onPick: (lat: number, lon: number) => void;
  label: string;
}) {
  const container = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const saved = useRef<L.LayerGroup | null>(null);
  const draft = useRef<L.Circle | null>(null);
  const pick = useRef(onPick);
  pick.current = onPick;
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let cancelled = false;
    void loadConfig().then((config) => {
      if (cancelled || !container.current || map.current) return;
      const m = L.map(container.current, { keyboard: true }).setView(config.defaultCenter, config.defaultZoom);
      if (config.tileUrl) L.tileLayer(config.tileUrl, { attribution: config.tileAttribution ?? "", maxZoom: 19 }).addTo(m);
      m.on("click", (e: L.LeafletMouseEvent) => pick.current(e.latlng.lat, e.latlng.lng));
      saved.current = L.layerGroup().addTo(m);
      map.current = m;
      setReady(true);
    });
    return () => {
      cancelled = true;
      map.current?.remove();
      map.current = null;
      saved.current = null;
      draft.current = null;
    };
  }, []);

  // The saved watches; the view fits them the first time there are some.
  const fitted = useRef(false);
  useEffect(() => {
    const group = saved.current;
    if (!ready || !group || !map.current) return;
    group.clearLayers();
    const circles = watches
      .filter((w) => w.lat !== null && w.lon !== null && w.radius_m !== null)
      .map((w) => L.circle([w.lat!, w.lon!], { radius: w.radius_m!, color: "#0b5394", weight: 2, interactive: false }).addTo(group));
    if (!fitted.current && circles.length > 0) {
      fitted.current = true;
      map.current.fitBounds(L.featureGroup(circles).getBounds(), { maxZoom: 15 });
    }
  }, [watches, ready]);

  // The watch being added.
  useEffect(() => {
    const m = map.current;
    if (!ready || !m) return;
    if (!pending) {
      draft.current?.remove();
      draft.current = null;
      return;
    }
    const ll = L.latLng(pending.lat, pending.lon);
    if (!draft.current) {
      draft.current = L.circle(ll, { radius: pending.radius, color: "#1a1a1a", dashArray: "6 6", weight: 2, interactive: false }).addTo(m);
    } else {
      draft.current.setLatLng(ll);
      draft.current.setRadius(pending.radius);
    }
    if (!m.getBounds().contains(ll)) m.panTo(ll);
  }, [pending?.lat, pending?.lon, pending?.radius, ready]); // eslint-disable-line react-hooks/exhaustive-deps

  return <div ref={container} className="map notify-watch-map" role="application" aria-label={label} />;
}
