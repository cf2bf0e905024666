/**
 * Where the problem is: a Leaflet map (a click or tap sets the pin, which can be dragged), "Use my
 * location", and latitude/longitude inputs for keyboard users (typing moves the pin).
 */
import L from "leaflet";
import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { FormField } from "../../../components/FormField";
import { loadConfig } from "../../../lib/config";
import { formatCoordinate, pointOf } from "./form";

export const GEOLOCATION_TIMEOUT_MS = 10_000;

const PIN = L.divIcon({
  className: "report-pin",
  html: '<span class="report-pin-dot" aria-hidden="true"></span>',
  iconSize: [28, 28],
  iconAnchor: [14, 28],
});

export function LocationPicker({
  lat,
  lon,
  onChange,
  latError,
  lonError,
  locationError,
}: {
  lat: string;
  lon: string;
  onChange: (lat: string, lon: string) => void;
  latError?: string;
  lonError?: string;
  locationError?: string;
}) {
  const { t } = useTranslation("report");
  const container = useRef<HTMLDivElement>(null);
  const map = useRef<L.Map | null>(null);
  const marker = useRef<L.Marker | null>(null);
  const changeRef = useRef(onChange);
  changeRef.current = onChange;
  const [locating, setLocating] = useState(false);
  const [geoError, setGeoError] = useState<string | null>(null);
  const [ready, setReady] = useState(0); // bumped when the map exists, so the pin effect runs again
  const point = pointOf({ lat, lon });

  const place = (la: number, lo: number) => changeRef.current(formatCoordinate(la), formatCoordinate(lo));

  // The map, once.
  useEffect(() => {
    let cancelled = false;
    void loadConfig().then((config) => {
      if (cancelled || !container.current || map.current) return;
      const m = L.map(container.current, { keyboard: true }).setView(config.defaultCenter, config.defaultZoom);
      if (config.tileUrl) {
        L.tileLayer(config.tileUrl, { attribution: config.tileAttribution ?? "", maxZoom: 19 }).addTo(m);
      }
      m.on("click", (e: L.LeafletMouseEvent) => place(e.latlng.lat, e.latlng.lng));
      map.current = m;
      setReady((n) => n + 1);
    });
    return () => {
      cancelled = true;
      map.current?.remove();
      map.current = null;
      marker.current = null;
    };
  }, []);

  // The pin follows the coordinates (from a click, a drag, geolocation or the inputs).
  useEffect(() => {
    const m = map.current;
    if (!m) return;
    if (!point) {
      marker.current?.remove();
      marker.current = null;
      return;
    }
    const ll = L.latLng(point.lat, point.lon);
    if (!marker.current) {
      marker.current = L.marker(ll, { draggable: true, icon: PIN, title: t("location.pin"), alt: t("location.pin"), keyboard: false })
        .on("dragend", (e) => {
          const p = (e.target as L.Marker).getLatLng();
          place(p.lat, p.lng);
        })
        .addTo(m);
    } else marker.current.setLatLng(ll);
    if (!m.getBounds().contains(ll)) m.panTo(ll);
  }, [point?.lat, point?.lon, ready]);

  function useMyLocation() {
    setGeoError(null);
    if (!("geolocation" in navigator)) {
      setGeoError(t("location.unsupported"));
      return;
    }
    setLocating(true);
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        setLocating(false);
        place(pos.coords.latitude, pos.coords.longitude);
        map.current?.setView([pos.coords.latitude, pos.coords.longitude], Math.max(map.current.getZoom(), 16));
      },
      (err) => {
        setLocating(false);
        const byCode: Record<number, string> = { 1: "location.denied", 2: "location.unavailable", 3: "location.timeout" };
        setGeoError(t(byCode[err.code] ?? "location.unavailable"));
      },
      { enableHighAccuracy: true, timeout: GEOLOCATION_TIMEOUT_MS, maximumAge: 60_000 },
    );
  }

  return (
    <fieldset className="report-location">
      <legend>{t("location.legend")}</legend>
      <p className="hint" id="report-location-hint">
        {t("location.hint")}
      </p>
      <div ref={container} className="map report-map" role="application" aria-label={t("location.map")} aria-describedby="report-location-hint" />
      <div className="report-location-actions">
        <button type="button" onClick={useMyLocation} disabled={locating}>
          <span aria-hidden="true">⌖ </span>
          {locating ? t("location.locating") : t("location.useMine")}
        </button>
        <p className="report-location-text" aria-live="polite">
          {point ? t("location.chosen", { lat: point.lat.toFixed(5), lon: point.lon.toFixed(5) }) : t("location.none")}
        </p>
      </div>
      {geoError && (
        <p className="field-error" role="alert">
          <span aria-hidden="true">✖ </span>
          {geoError}
        </p>
      )}
      {locationError && (
        <p className="field-error" id="report-location-error">
          <span aria-hidden="true">✖ </span>
          {locationError}
        </p>
      )}
      <div className="report-coords">
        <FormField label={t("location.lat")} name="lat" error={latError}>
          <input id="report-lat" inputMode="decimal" autoComplete="off" value={lat} onChange={(e) => onChange(e.target.value, lon)} />
        </FormField>
        <FormField label={t("location.lon")} name="lon" error={lonError}>
          <input id="report-lon" inputMode="decimal" autoComplete="off" value={lon} onChange={(e) => onChange(lat, e.target.value)} />
        </FormField>
      </div>
    </fieldset>
  );
}
