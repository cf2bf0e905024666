import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { CreatedEndpoint, EndpointView } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { formatDateTime, formatNumber } from "../../i18n/format";
import "./admin.css";
import { ConfirmDialog } from "./shared/ConfirmDialog";
import { OneTimeSecret } from "./shared/OneTimeSecret";
import { useSubmitKey } from "../../api/submitKey";
import { Deliveries } from "./webhooks/Deliveries";
import { NewWebhook } from "./webhooks/NewWebhook";

/** Admin: webhook endpoints (create with a one-time secret, delete, re-enable) and their delivery log. */
export default function WebhooksPage() {
  const { t } = useTranslation(["admin", "common"]);
  usePageTitle(t("titles.webhooks", { ns: "common" }));
  const [endpoints, setEndpoints] = useState<EndpointView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<CreatedEndpoint | null>(null);
  const [deleting, setDeleting] = useState<EndpointView | null>(null);
  const keys = useSubmitKey();
  const [actionProblem, setActionProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [viewing, setViewing] = useState<EndpointView | null>(null);
  const [notice, setNotice] = useState("");

  const load = useCallback((signal?: AbortSignal) => {
    setError(null);
    api
      .get<EndpointView[]>("/v1/admin/webhooks", { signal })
      .then(setEndpoints)
      .catch((e: unknown) => {
        if (!signal?.aborted) setError(e);
      });
  }, []);
  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal);
    return () => controller.abort();
  }, [load]);

  async function remove() {
    if (!deleting) return;
    setBusy(true);
    try {
      const path = `/v1/admin/webhooks/${deleting.id}`;
      await keys.send("DELETE", path);
      setNotice(t("webhooks.deleted", { url: deleting.url }));
      if (viewing?.id === deleting.id) setViewing(null);
      setDeleting(null);
      setActionProblem(null);
      load();
    } catch (e) {
      setActionProblem(e);
    } finally {
      setBusy(false);
    }
  }

  async function enable(endpoint: EndpointView) {
    setBusy(true);
    try {
      const path = `/v1/admin/webhooks/${endpoint.id}/enable`;
      await keys.send("POST", path);
      setNotice(t("webhooks.enabledDone", { url: endpoint.url }));
      setActionProblem(null);
      load();
    } catch (e) {
      setActionProblem(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="admin-screen">
      <h1>{t("titles.webhooks", { ns: "common" })}</h1>
      <p role="status">{notice}</p>
      {created && (
        <OneTimeSecret
          label={t("webhooks.secretLabel", { url: created.url })}
          value={created.secret}
          onDone={() => setCreated(null)}
        />
      )}
      <NewWebhook
        onCreated={(e) => {
          setNotice("");
          setCreated(e);
          load();
        }}
      />
      <h2>{t("webhooks.listTitle")}</h2>
      <ProblemAlert error={error} onRetry={() => load()} />
      {!deleting && <ProblemAlert error={actionProblem} />}
      {endpoints === null && !error ? (
        <Loading />
      ) : endpoints && endpoints.length === 0 ? (
        <p>{t("webhooks.none")}</p>
      ) : endpoints ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t("webhooks.listTitle")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("webhooks.url")}</th>
                <th scope="col">{t("webhooks.events")}</th>
                <th scope="col">{t("webhooks.state")}</th>
                <th scope="col">{t("webhooks.lastSuccess")}</th>
                <th scope="col">
                  <span className="visually-hidden">{t("actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {endpoints.map((e) => (
                <tr key={e.id}>
                  <th scope="row">
                    <span className="code">{e.url}</span>
                    {e.description && <p>{e.description}</p>}
                  </th>
                  <td>{e.event_types.includes("*") ? t("webhooks.allEvents") : e.event_types.join(", ")}</td>
                  <td>
                    {e.enabled ? (
                      <span className="marker marker-on">{t("webhooks.enabled")}</span>
                    ) : (
                      <span className="marker marker-off">
                        <span aria-hidden="true">⛔ </span>
                        {t("webhooks.disabled")}
                      </span>
                    )}
                    {!e.enabled && e.disabled_reason && <p>{e.disabled_reason}</p>}
                    {e.consecutive_failures > 0 && (
                      <p>{t("webhooks.failures", { n: formatNumber(e.consecutive_failures) })}</p>
                    )}
                  </td>
                  <td>{e.last_success_at ? formatDateTime(e.last_success_at) : "—"}</td>
                  <td>
                    <div className="admin-actions">
                      <button
                        type="button"
                        className="secondary"
                        aria-label={t("webhooks.deliveriesNamed", { url: e.url })}
                        onClick={() => setViewing(e)}
                      >
                        {t("webhooks.deliveries")}
                      </button>
                      {!e.enabled && (
                        <button
                          type="button"
                          className="secondary"
                          disabled={busy}
                          aria-label={t("webhooks.enableNamed", { url: e.url })}
                          onClick={() => void enable(e)}
                        >
                          {t("webhooks.enable")}
                        </button>
                      )}
                      <button
                        type="button"
                        className="danger"
                        aria-label={t("webhooks.deleteNamed", { url: e.url })}
                        onClick={() => {
                          setActionProblem(null);
                          setDeleting(e);
                        }}
                      >
                        {t("buttons.delete", { ns: "common" })}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {viewing && <Deliveries key={viewing.id} endpoint={viewing} onClose={() => setViewing(null)} />}
      <ConfirmDialog
        open={deleting !== null}
        title={t("webhooks.confirmTitle", { url: deleting?.url ?? "" })}
        confirmLabel={t("buttons.delete", { ns: "common" })}
        onConfirm={() => void remove()}
        onCancel={() => setDeleting(null)}
        busy={busy}
        error={actionProblem}
      >
        <p>{t("webhooks.confirmBody")}</p>
      </ConfirmDialog>
    </section>
  );
}
