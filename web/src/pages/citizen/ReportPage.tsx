import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api, ProblemError } from "../../api/client";
import { useSubmitKey } from "../../api/submitKey";
import type { Accepted, CategorySpec, IssueDetail, ReportIssueRequest } from "../../api/types";
import { useSession } from "../../auth/session";
import { FormField } from "../../components/FormField";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { currentLocale } from "../../i18n";
import { useDraft } from "../../lib/draft";
import { AttributeFields, attributeLabel } from "./report/AttributeFields";
import {
  buildRequest,
  DESCRIPTION_MAX,
  EMPTY_DRAFT,
  fieldMessage,
  groupCategories,
  pointOf,
  TITLE_MAX,
  validate,
  type ClientErrors,
} from "./report/form";
import { LocationPicker } from "./report/LocationPicker";
import { PhotoPicker, photosBusy, usableMediaIds, type Photo } from "./report/PhotoPicker";
import { Suggestions } from "./report/Suggestions";
import "./report/Report.css";

/** How long to wait for a new report to become readable before linking to it anyway. */
export const READABLE_WAIT_MS = 6000;

/** Which input to focus for a field's error. */
const FIELD_INPUT: Record<string, string> = {
  location: "report-lat",
  lat: "report-lat",
  lon: "report-lon",
  category: "report-category",
  title: "report-title",
  description: "report-description",
};

/** The report is readable moments after the 202: poll briefly so the link does not open a 404. */
async function waitReadable(id: string, signal: AbortSignal): Promise<boolean> {
  const until = Date.now() + READABLE_WAIT_MS;
  while (!signal.aborted && Date.now() < until) {
    try {
      await api.get<IssueDetail>(`/v1/issues/${id}`, { signal });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 700));
    }
  }
  return false;
}

function Received({ id, onAnother }: { id: string; onAnother: () => void }) {
  const { t } = useTranslation("report");
  const [readable, setReadable] = useState<boolean | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    heading.current?.focus();
    const abort = new AbortController();
    void waitReadable(id, abort.signal).then((ok) => !abort.signal.aborted && setReadable(ok));
    return () => abort.abort();
  }, [id]);
  return (
    <section className="report-received" aria-labelledby="report-received-title">
      <h2 id="report-received-title" ref={heading} tabIndex={-1}>
        <span aria-hidden="true">✔ </span>
        {t("received.title")}
      </h2>
      <p>{t("received.body")}</p>
      <p>
        {t("received.id")} <code>{id}</code>
      </p>
      {readable === null ? (
        <Loading label={t("received.waiting")} />
      ) : (
        <p>
          <Link to={`/issues/${id}`}>{t("received.open")}</Link>
          {!readable && <span className="hint"> {t("received.soon")}</span>}
        </p>
      )}
      <p>
        <Link to="/me/reports">{t("received.mine")}</Link>
      </p>
      <button type="button" onClick={onAnother}>
        {t("received.another")}
      </button>
    </section>
  );
}

export default function ReportPage() {
  const { t } = useTranslation(["report", "common"]);
  usePageTitle(t("title"));
  const { user } = useSession();
  const [draft, setDraft, clearDraft] = useDraft("report", EMPTY_DRAFT);
  const [categories, setCategories] = useState<CategorySpec[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [photos, setPhotos] = useState<Photo[]>([]);
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [clientErrors, setClientErrors] = useState<ClientErrors>({});
  const [sending, setSending] = useState(false);
  const [accepted, setAccepted] = useState<string | null>(null);
  const summary = useRef<HTMLDivElement>(null);

  const loadCategories = () => {
    setLoadError(null);
    api
      .get<{ items: CategorySpec[] }>("/v1/categories")
      .then((r) => setCategories(r.items))
      .catch(setLoadError);
  };
  useEffect(loadCategories, []);

  const category = useMemo(() => categories?.find((c) => c.code === draft.category), [categories, draft.category]);
  const groups = useMemo(() => groupCategories(categories ?? [], currentLocale()), [categories]);
  const point = pointOf(draft);
  const errorOf = (field: string) => fieldMessage(field, clientErrors, error, (k) => t(k));

  const set = <K extends keyof typeof draft>(field: K, value: (typeof draft)[K]) => {
    setDraft((d) => ({ ...d, [field]: value }));
    if (clientErrors[field as string]) setClientErrors(({ [field as string]: _, ...rest }) => rest);
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (sending) return;
    const found = validate(draft, category, photosBusy(photos));
    setClientErrors(found);
    setError(null);
    const first = Object.keys(found)[0];
    if (first) {
      const input = FIELD_INPUT[first] ?? (first.startsWith("attributes.") ? `report-attr-${first.slice(11)}` : undefined);
      (input ? document.getElementById(input) : summary.current)?.focus();
      return;
    }
    const body: ReportIssueRequest = buildRequest(draft, category, usableMediaIds(photos));
    setSending(true);
    try {
      // The same key only for the same report after an unknown outcome (api/submitKey.ts).
      const result = await keys.send<Accepted>("POST", "/v1/issues", { json: body });
      clearDraft();
      photos.forEach((p) => p.preview && URL.revokeObjectURL(p.preview));
      setPhotos([]);
      setAccepted(result.id);
    } catch (err) {
      setError(err);
      summary.current?.focus();
    } finally {
      setSending(false);
    }
  }

  const fieldLabels: Record<string, string> = {
    title: t("fields.title"),
    description: t("fields.description"),
    category: t("fields.category"),
    lat: t("location.lat"),
    lon: t("location.lon"),
    location: t("location.legend"),
    media_ids: t("photos.legend"),
    photos: t("photos.legend"),
    ...Object.fromEntries((category?.attributes ?? []).map((a) => [`attributes.${a.code}`, attributeLabel(a)])),
  };
  const clientList = Object.entries(clientErrors);

  return (
    <section className="report-page">
      <h1>{t("title")}</h1>
      {accepted ? (
        <Received id={accepted} onAnother={() => setAccepted(null)} />
      ) : (
        <form onSubmit={(e) => void submit(e)} noValidate aria-describedby="report-intro">
          <p id="report-intro">{t("intro")}</p>
          <div ref={summary} tabIndex={-1} className="report-summary">
            {clientList.length > 0 && (
              <div className="problem" role="alert">
                <p className="problem-title">
                  <span aria-hidden="true">⚠ </span>
                  {t("errors.summary")}
                </p>
                <ul>
                  {clientList.map(([field, msg]) => (
                    <li key={field}>
                      <strong>{fieldLabels[field] ?? field}</strong>: {t(msg)}
                    </li>
                  ))}
                </ul>
              </div>
            )}
            <ProblemAlert error={error} fieldLabels={fieldLabels} />
          </div>

          <LocationPicker
            lat={draft.lat}
            lon={draft.lon}
            onChange={(lat, lon) => {
              setDraft((d) => ({ ...d, lat, lon }));
              setClientErrors(({ location: _l, lat: _a, lon: _o, ...rest }) => rest);
            }}
            latError={errorOf("lat")}
            lonError={errorOf("lon")}
            locationError={errorOf("location")}
          />

          {loadError ? (
            <ProblemAlert error={loadError} onRetry={loadCategories} />
          ) : categories === null ? (
            <Loading />
          ) : (
            <FormField label={t("fields.category")} name="category" required error={errorOf("category")}>
              <select
                id="report-category"
                value={draft.category}
                onChange={(e) => setDraft((d) => ({ ...d, category: e.target.value, attributes: {} }))}
              >
                <option value="">{t("fields.chooseCategory")}</option>
                {groups.map(({ group, items }) =>
                  group ? (
                    <optgroup key={group} label={group}>
                      {items.map((c) => (
                        <option key={c.code} value={c.code}>
                          {c.name}
                        </option>
                      ))}
                    </optgroup>
                  ) : (
                    items.map((c) => (
                      <option key={c.code} value={c.code}>
                        {c.name}
                      </option>
                    ))
                  ),
                )}
              </select>
            </FormField>
          )}
          {category?.description && <p className="hint">{category.description}</p>}

          <Suggestions lat={point?.lat ?? null} lon={point?.lon ?? null} category={draft.category} />

          <AttributeFields
            category={category}
            values={draft.attributes}
            onChange={(code, value) => {
              setDraft((d) => ({ ...d, attributes: { ...d.attributes, [code]: value } }));
              setClientErrors(({ [`attributes.${code}`]: _, ...rest }) => rest);
            }}
            errorOf={errorOf}
          />

          <FormField label={t("fields.title")} name="title" required error={errorOf("title")} hint={t("fields.titleHint")}>
            <input id="report-title" value={draft.title} maxLength={TITLE_MAX} onChange={(e) => set("title", e.target.value)} />
          </FormField>
          <FormField label={t("fields.description")} name="description" error={errorOf("description")}>
            <textarea
              id="report-description"
              rows={4}
              value={draft.description}
              maxLength={DESCRIPTION_MAX}
              onChange={(e) => set("description", e.target.value)}
            />
          </FormField>

          {user && !user.email_verified && <p className="hint">{t("photos.needVerified")}</p>}
          <PhotoPicker photos={photos} onChange={setPhotos} />
          {error instanceof ProblemError &&
            error.errors
              .filter((f) => f.field.startsWith("media_ids"))
              .map((f) => (
                <p key={f.field} className="field-error">
                  <span aria-hidden="true">✖ </span>
                  {t("photos.legend")}: {f.message}
                </p>
              ))}

          <div className="field report-anonymous">
            <input id="report-anonymous" type="checkbox" checked={draft.anonymous} onChange={(e) => set("anonymous", e.target.checked)} />
            <label htmlFor="report-anonymous">{t("fields.anonymous")}</label>
          </div>

          <button type="submit" className="primary" disabled={sending} aria-describedby={photosBusy(photos) ? "report-wait" : undefined}>
            {sending ? t("sending") : t("submit")}
          </button>
          {photosBusy(photos) && (
            <p id="report-wait" className="hint">
              {t("photos.wait")}
            </p>
          )}
        </form>
      )}
    </section>
  );
}
