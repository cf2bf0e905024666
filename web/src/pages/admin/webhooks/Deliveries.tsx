import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../../api/client";
import type { DeliveryPage, EndpointView } from "../../../api/types";
import { Loading } from "../../../components/Loading";
import { Pager, useCursorPager } from "../../../components/Pager";
import { ProblemAlert } from "../../../components/ProblemAlert";
import { formatDateTime, formatNumber } from "../../../i18n/format";
import { attemptOutcome } from "./logic";

/** The delivery log of one endpoint, newest first, cursor-paged. */
export function Deliveries({ endpoint, onClose }: { endpoint: EndpointView; onClose: () => void }) {
  const { t } = useTranslation(["admin", "common"]);
  const pager = useCursorPager();
  const [page, setPage] = useState<DeliveryPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [reload, setReload] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    api
      .get<DeliveryPage>(`/v1/admin/webhooks/${endpoint.id}/deliveries`, {
        searchParams: { cursor: pager.cursor, limit: 20 },
        signal: controller.signal,
      })
      .then(setPage)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [endpoint.id, pager.cursor, reload]);

  return (
    <section className="admin-panel" aria-labelledby="deliveries-title">
      <h2 id="deliveries-title" tabIndex={-1} ref={heading}>{t("webhooks.deliveriesTitle", { url: endpoint.url })}</h2>
      <div className="admin-actions">
        <button type="button" className="secondary" onClick={() => setReload((n) => n + 1)}>
          {t("webhooks.refresh")}
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          {t("buttons.close", { ns: "common" })}
        </button>
      </div>
      <ProblemAlert error={error} onRetry={() => setReload((n) => n + 1)} />
      {page === null && !error ? (
        <Loading />
      ) : page && page.items.length === 0 ? (
        <p>{t("webhooks.noDeliveries")}</p>
      ) : page ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">{t("webhooks.deliveriesTitle", { url: endpoint.url })}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("webhooks.event")}</th>
                  <th scope="col">{t("webhooks.status")}</th>
                  <th scope="col">{t("webhooks.created")}</th>
                  <th scope="col">{t("webhooks.attempts")}</th>
                  <th scope="col">{t("webhooks.outcome")}</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">
                      {d.event_type}
                      <br />
                      <span className="code">{d.id}</span>
                    </th>
                    <td>
                      <span className={`marker ${d.status === "failed" || d.status === "cancelled" ? "marker-off" : d.status === "delivered" ? "marker-on" : ""}`}>
                        {t(`webhooks.deliveryStatus.${d.status}`)}
                      </span>
                      {d.reason && <p>{d.reason}</p>}
                    </td>
                    <td>{formatDateTime(d.created_at)}</td>
                    <td>
                      {formatNumber(d.attempt_count)}
                      {d.attempts.length > 0 && (
                        <ol className="attempts">
                          {d.attempts.map((a, i) => (
                            <li key={i}>
                              {formatDateTime(a.at)}: {attemptOutcome(a)} ({t("webhooks.ms", { n: formatNumber(Math.round(a.duration_ms)) })})
                            </li>
                          ))}
                        </ol>
                      )}
                    </td>
                    <td>
                      {d.delivered_at
                        ? t("webhooks.deliveredAt", { at: formatDateTime(d.delivered_at) })
                        : d.next_attempt_at
                          ? t("webhooks.nextAt", { at: formatDateTime(d.next_attempt_at) })
                          : "—"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pager={pager} nextCursor={page.next_cursor} label={t("webhooks.deliveriesPaging")} />
        </>
      ) : null}
    </section>
  );
}
