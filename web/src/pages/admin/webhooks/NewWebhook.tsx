import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSubmitKey } from "../../../api/submitKey";
import { ProblemError } from "../../../api/problem";
import type { CreatedEndpoint } from "../../../api/types";
import { FormField } from "../../../components/FormField";
import { ProblemAlert } from "../../../components/ProblemAlert";
import { EVENT_TYPES, newEndpointBody } from "./logic";

/** POST /v1/admin/webhooks: URL, event types, description. */
export function NewWebhook({ onCreated }: { onCreated: (e: CreatedEndpoint) => void }) {
  const { t } = useTranslation(["admin", "common"]);
  const [form, setForm] = useState({ url: "", all: true, types: [] as string[], description: "" });
  const keys = useSubmitKey();
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const typesError =
    problem instanceof ProblemError
      ? problem.errors.find((f) => f.field === "event_types" || f.field.startsWith("event_types."))?.message
      : undefined;

  async function submit() {
    setBusy(true);
    try {
      const json = newEndpointBody(form);
      const made = await keys.send<CreatedEndpoint>("POST", "/v1/admin/webhooks", { json });
      setProblem(null);
      setForm({ url: "", all: true, types: [], description: "" });
      onCreated(made);
    } catch (e) {
      setProblem(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="admin-panel"
      aria-labelledby="new-webhook-title"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="new-webhook-title">{t("webhooks.newTitle")}</h2>
      <ProblemAlert
        error={problem}
        fieldLabels={{ url: t("webhooks.url"), event_types: t("webhooks.events"), description: t("webhooks.description") }}
      />
      <FormField label={t("webhooks.url")} name="url" error={problem} hint={t("webhooks.urlHint")} required>
        <input type="url" value={form.url} onChange={(e) => setForm((f) => ({ ...f, url: e.target.value }))} autoComplete="off" />
      </FormField>
      <fieldset className="admin-row" aria-describedby={typesError ? "webhook-types-error" : undefined}>
        <legend>{t("webhooks.events")}</legend>
        <label className="check">
          <input type="checkbox" checked={form.all} onChange={(e) => setForm((f) => ({ ...f, all: e.target.checked }))} />
          {t("webhooks.allEvents")}
        </label>
        {!form.all && (
          <ul className="checkbox-list">
            {EVENT_TYPES.map((type) => (
              <li key={type}>
                <label>
                  <input
                    type="checkbox"
                    checked={form.types.includes(type)}
                    onChange={(e) =>
                      setForm((f) => ({
                        ...f,
                        types: e.target.checked ? [...f.types, type] : f.types.filter((x) => x !== type),
                      }))
                    }
                  />
                  {type}
                </label>
              </li>
            ))}
          </ul>
        )}
        {typesError && (
          <p className="field-error" id="webhook-types-error">
            <span aria-hidden="true">✖ </span>
            {typesError}
          </p>
        )}
      </fieldset>
      <FormField label={t("webhooks.description")} name="description" error={problem}>
        <input value={form.description} maxLength={500} onChange={(e) => setForm((f) => ({ ...f, description: e.target.value }))} />
      </FormField>
      <button type="submit" disabled={busy}>
        {t("webhooks.create")}
      </button>
    </form>
  );
}
