/** "Is it one of these?": open reports of the same category close to the pin (GET /v1/issues/suggestions). */
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../../api/client";
import type { IssueSummary, Page } from "../../../api/types";
import { ProblemAlert } from "../../../components/ProblemAlert";
import { StatusBadge } from "../../../components/StatusBadge";
import { formatDate, formatNumber } from "../../../i18n/format";

export const SUGGESTION_DELAY_MS = 500;

export function Suggestions({ lat, lon, category }: { lat: number | null; lon: number | null; category: string }) {
  const { t } = useTranslation(["report", "common"]);
  const [items, setItems] = useState<IssueSummary[]>([]);
  const [followed, setFollowed] = useState<Record<string, "busy" | "done" | unknown>>({});
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setItems([]);
    if (lat === null || lon === null || !category || Math.abs(lat) > 85) return;
    const abort = new AbortController();
    // Wait for the pin to settle (dragging, typing) before asking.
    const timer = setTimeout(() => {
      api
        .get<Page>("/v1/issues/suggestions", { searchParams: { lat, lon, category }, signal: abort.signal })
        .then((page) => setItems(page.items))
        .catch(() => undefined); // suggestions are a help, not a step: a failure just shows none
    }, SUGGESTION_DELAY_MS);
    return () => {
      clearTimeout(timer);
      abort.abort();
    };
  }, [lat, lon, category]);

  async function follow(id: string) {
    setError(null);
    setFollowed((f) => ({ ...f, [id]: "busy" }));
    try {
      await api.put(`/v1/issues/${id}/follow`);
      setFollowed((f) => ({ ...f, [id]: "done" }));
    } catch (e) {
      setError(e);
      setFollowed((f) => ({ ...f, [id]: undefined }));
    }
  }

  if (items.length === 0) return null;
  return (
    <section className="report-suggestions" aria-labelledby="report-suggestions-title">
      <h2 id="report-suggestions-title">{t("suggestions.title")}</h2>
      <p>{t("suggestions.hint")}</p>
      <ProblemAlert error={error} />
      <ul>
        {items.map((issue) => (
          <li key={issue.id}>
            <Link to={`/issues/${issue.id}`}>{issue.title}</Link> <StatusBadge status={issue.status} />{" "}
            <span className="hint">
              {issue.distance_m != null ? t("suggestions.distance", { m: formatNumber(Math.round(issue.distance_m)) }) + " · " : ""}
              {formatDate(issue.created_at)}
            </span>{" "}
            {followed[issue.id] === "done" ? (
              <span role="status">
                <span aria-hidden="true">✔ </span>
                {t("suggestions.following")}
              </span>
            ) : (
              <button type="button" onClick={() => void follow(issue.id)} disabled={followed[issue.id] === "busy"}>
                {t("buttons.follow", { ns: "common" })}
                <span className="visually-hidden">: {issue.title}</span>
              </button>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
