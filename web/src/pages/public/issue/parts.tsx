/** Pieces of the issue page: the small map, the photos, the timeline and the comments. */
import L from "leaflet";
import { useEffect, useRef } from "react";
import { useTranslation } from "react-i18next";
import type { CommentView, HistoryEntry, IssueStatus, PhotoView } from "../../../api/types";
import { StatusBadge, STATUS_ICONS } from "../../../components/StatusBadge";
import { formatDateTime, formatRelative } from "../../../i18n/format";
import { loadConfig } from "../../../lib/config";
import { photoUrl } from "../map/state";

export function When({ at }: { at: string }) {
  return (
    <time dateTime={at} title={formatDateTime(at)}>
      {formatDateTime(at)} ({formatRelative(at)})
    </time>
  );
}

export function SmallMap({ lat, lon, status, label }: { lat: number; lon: number; status: IssueStatus; label: string }) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let map: L.Map | null = null;
    let alive = true;
    void loadConfig().then((config) => {
      if (!alive || !container.current) return;
      map = L.map(container.current, { scrollWheelZoom: false }).setView([lat, lon], 16);
      if (config.tileUrl) L.tileLayer(config.tileUrl, { attribution: config.tileAttribution ?? undefined, maxZoom: 19 }).addTo(map);
      L.marker([lat, lon], {
        interactive: false,
        keyboard: false,
        icon: L.divIcon({
          className: `map-pin status-${status}`,
          html: `<span aria-hidden="true">${STATUS_ICONS[status] ?? "•"}</span>`,
          iconSize: [32, 32],
          iconAnchor: [16, 32],
        }),
      }).addTo(map);
      map.getContainer().setAttribute("aria-label", label);
    });
    return () => {
      alive = false;
      map?.remove();
    };
  }, [lat, lon, status, label]);
  return <div ref={container} className="map issue-map" />;
}

export function Photos({ photos, title }: { photos: PhotoView[]; title: string }) {
  const { t } = useTranslation("issue");
  const shown = photos.filter((p) => p.status === "processed" && p.urls);
  const pending = photos.filter((p) => p.status === "pending").length;
  if (photos.length === 0) return null;
  return (
    <section aria-labelledby="issue-photos">
      <h2 id="issue-photos">{t("photos.heading")}</h2>
      {shown.length > 0 && (
        <ul className="issue-photos">
          {shown.map((photo, i) => {
            const thumb = photoUrl(photo.urls, ["thumb", "medium", "large"]);
            const large = photoUrl(photo.urls, ["large", "medium", "thumb"]);
            if (!thumb) return null;
            const alt = t("photos.alt", { n: i + 1, total: shown.length, title });
            return (
              <li key={photo.id}>
                <a href={large ?? thumb} target="_blank" rel="noopener">
                  <img src={thumb} alt={alt} loading="lazy" width={160} height={120} />
                  <span className="visually-hidden"> {t("photos.openLarge")}</span>
                </a>
              </li>
            );
          })}
        </ul>
      )}
      {pending > 0 && <p>{t("photos.pending", { count: pending })}</p>}
    </section>
  );
}

export function Timeline({ history, createdAt }: { history: HistoryEntry[]; createdAt: string }) {
  const { t } = useTranslation(["issue", "common"]);
  return (
    <section aria-labelledby="issue-history">
      <h2 id="issue-history">{t("history.heading")}</h2>
      <ol className="issue-timeline">
        <li>
          <p>
            <strong>{t("history.reported")}</strong> · <When at={createdAt} />
          </p>
        </li>
        {history.map((h, i) => (
          <li key={`${h.at}-${i}`}>
            <p>
              <StatusBadge status={h.from} /> <span aria-hidden="true">→</span>
              <span className="visually-hidden"> {t("history.to")} </span> <StatusBadge status={h.to} /> · <When at={h.at} />
            </p>
            {h.note && <p>{h.note}</p>}
            {h.reason && (
              <p>
                {t("history.reason")}: {h.reason}
              </p>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

export function Comments({ comments, userId }: { comments: CommentView[]; userId: string | null }) {
  const { t } = useTranslation("issue");
  return (
    <ul className="issue-comments">
      {comments.map((c) => (
        <li key={c.id} className={c.internal ? "internal" : undefined}>
          <p>
            {c.internal && (
              <>
                <strong className="badge">{t("comments.internal")}</strong>{" "}
              </>
            )}
            {userId && c.author_id === userId && <strong>{t("comments.you")} · </strong>}
            <When at={c.created_at} />
          </p>
          <p style={{ whiteSpace: "pre-wrap" }}>{c.body}</p>
        </li>
      ))}
    </ul>
  );
}
