import { useCallback, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { ApiKeyView, IssuedApiKey } from "../../api/types";
import { FormField } from "../../components/FormField";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { formatDateTime } from "../../i18n/format";
import { useDraft } from "../../lib/draft";
import "./admin.css";
import { ConfirmDialog } from "./shared/ConfirmDialog";
import { OneTimeSecret } from "./shared/OneTimeSecret";
import { useSubmitKey } from "../../api/submitKey";

/** Admin: API keys for integrators; a new key's secret shows once; revoke with a confirmation. */
export default function ApiKeysPage() {
  const { t } = useTranslation(["admin", "common"]);
  usePageTitle(t("titles.apiKeys", { ns: "common" }));
  const [keys, setKeys] = useState<ApiKeyView[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  // The key's name (never its secret) survives a session that ends mid-form.
  const [draft, setDraft, clearDraft] = useDraft("admin.api-key", { name: "" });
  const name = draft.name;
  const setName = (value: string) => setDraft({ name: value });
  const createKeys = useSubmitKey();
  const [createProblem, setCreateProblem] = useState<unknown>(null);
  const [issued, setIssued] = useState<IssuedApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [revoking, setRevoking] = useState<ApiKeyView | null>(null);
  const revokeKeys = useSubmitKey();
  const [revokeProblem, setRevokeProblem] = useState<unknown>(null);
  const [notice, setNotice] = useState("");

  const load = useCallback((signal?: AbortSignal) => {
    setError(null);
    api
      .get<ApiKeyView[]>("/v1/admin/api-keys", { signal })
      .then(setKeys)
      .catch((e: unknown) => {
        if (!signal?.aborted) setError(e);
      });
  }, []);
  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal);
    return () => controller.abort();
  }, [load]);

  async function create() {
    setBusy(true);
    setNotice("");
    try {
      const json = { name: name.trim() };
      const made = await createKeys.send<IssuedApiKey>("POST", "/v1/admin/api-keys", { json });
      setCreateProblem(null);
      clearDraft();
      setIssued(made);
      load();
    } catch (e) {
      setCreateProblem(e);
    } finally {
      setBusy(false);
    }
  }

  async function revoke() {
    if (!revoking) return;
    setBusy(true);
    try {
      const path = `/v1/admin/api-keys/${encodeURIComponent(revoking.id)}`;
      await revokeKeys.send("DELETE", path);
      setNotice(t("apiKeys.revoked", { name: revoking.name }));
      setRevoking(null);
      setRevokeProblem(null);
      load();
    } catch (e) {
      setRevokeProblem(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="admin-screen">
      <h1>{t("titles.apiKeys", { ns: "common" })}</h1>
      <p>{t("apiKeys.intro")}</p>
      <p role="status">{notice}</p>
      {issued && (
        <OneTimeSecret label={t("apiKeys.secretLabel", { name: issued.name })} value={issued.api_key} onDone={() => setIssued(null)} />
      )}
      <form
        className="admin-panel"
        aria-labelledby="new-key-title"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <h2 id="new-key-title">{t("apiKeys.newTitle")}</h2>
        <ProblemAlert error={createProblem} fieldLabels={{ name: t("apiKeys.name") }} hideFields />
        <FormField label={t("apiKeys.name")} name="name" error={createProblem} hint={t("apiKeys.nameHint")} required>
          <input value={name} maxLength={100} onChange={(e) => setName(e.target.value)} autoComplete="off" />
        </FormField>
        <button type="submit" disabled={busy}>
          {t("apiKeys.create")}
        </button>
      </form>

      <h2>{t("apiKeys.listTitle")}</h2>
      <ProblemAlert error={error} onRetry={() => load()} />
      {keys === null && !error ? (
        <Loading />
      ) : keys && keys.length === 0 ? (
        <p>{t("apiKeys.none")}</p>
      ) : keys ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t("apiKeys.listTitle")}</caption>
            <thead>
              <tr>
                <th scope="col">{t("apiKeys.name")}</th>
                <th scope="col">{t("apiKeys.id")}</th>
                <th scope="col">{t("apiKeys.created")}</th>
                <th scope="col">{t("apiKeys.state")}</th>
                <th scope="col">
                  <span className="visually-hidden">{t("actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <th scope="row">{k.name}</th>
                  <td className="code">{k.id}</td>
                  <td>{formatDateTime(k.created_at)}</td>
                  <td>
                    {k.revoked_at ? (
                      <span className="marker marker-off">{t("apiKeys.revokedAt", { at: formatDateTime(k.revoked_at) })}</span>
                    ) : (
                      <span className="marker marker-on">{t("apiKeys.active")}</span>
                    )}
                  </td>
                  <td>
                    {!k.revoked_at && (
                      <button
                        type="button"
                        className="danger"
                        aria-label={t("apiKeys.revokeNamed", { name: k.name })}
                        onClick={() => {
                          setRevokeProblem(null);
                          setRevoking(k);
                        }}
                      >
                        {t("apiKeys.revoke")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ConfirmDialog
        open={revoking !== null}
        title={t("apiKeys.confirmTitle", { name: revoking?.name ?? "" })}
        confirmLabel={t("apiKeys.revoke")}
        onConfirm={() => void revoke()}
        onCancel={() => setRevoking(null)}
        busy={busy}
        error={revokeProblem}
      >
        <p>{t("apiKeys.confirmBody")}</p>
      </ConfirmDialog>
    </section>
  );
}
