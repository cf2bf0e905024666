import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import { useSubmitKey } from "../../api/submitKey";
import type { Preferences, PreferencesChange, WatchList, WatchView } from "../../api/types";
import { useSession } from "../../auth/session";
import { FormField } from "../../components/FormField";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { formatDate, formatNumber } from "../../i18n/format";
import { useDraft } from "../../lib/draft";
import {
  choice,
  formatCoordinate,
  formatRadius,
  groupsFor,
  pendingChanges,
  RADIUS_MAX_M,
  toggle,
  watchRequest,
  type Changes,
  type WatchFormErrors,
} from "./notify/logic";
import { WatchMap } from "./notify/WatchMap";
import { PrivacySection } from "./PrivacySection";
import "./notify/notify.css";

/** The citizen's settings: which notifications arrive on which channel, the areas they watch, and their data. */
export default function SettingsPage() {
  const { t } = useTranslation(["notify", "common"]);
  usePageTitle(t("titles.settings", { ns: "common" }));
  return (
    <section className="notify-page">
      <h1>{t("titles.settings", { ns: "common" })}</h1>
      <PreferencesForm />
      <Watches />
      <PrivacySection />
    </section>
  );
}

function PreferencesForm() {
  const { t } = useTranslation(["notify", "common"]);
  const { user } = useSession();
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  // Unsaved toggles survive a reload or a failed save (only the differences are kept).
  const [draft, setDraft, clearDraft] = useDraft<{ changes: Changes }>("notify.preferences", { changes: {} });
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    setLoadError(null);
    api
      .get<Preferences>("/v1/me/notification-preferences", { signal: abort.signal })
      .then(setPrefs)
      .catch((e: unknown) => !abort.signal.aborted && setLoadError(e));
    return () => abort.abort();
  }, [attempt]);

  const heading = <h2 id="notify-prefs-title">{t("settings.prefsTitle")}</h2>;
  if (loadError) {
    return (
      <section aria-labelledby="notify-prefs-title">
        {heading}
        <ProblemAlert error={loadError} onRetry={() => setAttempt((n) => n + 1)} />
      </section>
    );
  }
  if (!prefs) {
    return (
      <section aria-labelledby="notify-prefs-title">
        {heading}
        <Loading />
      </section>
    );
  }

  const changes = pendingChanges(prefs, draft.changes);
  const dirty = Object.keys(changes).length > 0;
  const channelName = (c: string) => t(`channels.${c}`, { defaultValue: c });
  const momentName = (m: string) => t(`moments.${m}`, { defaultValue: m.replaceAll("_", " ") });

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!prefs || !dirty) return;
    setBusy(true);
    setError(null);
    setSaved(false);
    const body: PreferencesChange = { moments: changes as PreferencesChange["moments"] };
    try {
      const updated = await keys.send<Preferences>("PUT", "/v1/me/notification-preferences", { json: body });
      setPrefs(updated);
      clearDraft();
      setSaved(true);
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="notify-prefs-title">
      {heading}
      <p>{t("settings.prefsIntro")}</p>
      <form onSubmit={save}>
        {groupsFor(prefs, user?.role).map((group) => (
          <div className="table-wrap" key={group.key}>
            <table className="notify-prefs">
              <caption>{t(`settings.${group.key}`)}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("settings.event")}</th>
                  {prefs.channels.map((c) => (
                    <th scope="col" key={c}>
                      {channelName(c)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {group.moments.map((m) => (
                  <tr key={m}>
                    <th scope="row">{momentName(m)}</th>
                    {prefs.channels.map((c) => (
                      <td key={c} className="notify-toggle">
                        <input
                          type="checkbox"
                          aria-label={t("settings.toggle", { channel: channelName(c), moment: momentName(m) })}
                          checked={choice(prefs, changes, m, c)}
                          onChange={(e) => {
                            setSaved(false);
                            setDraft({ changes: toggle(prefs, changes, m, c, e.target.checked) });
                          }}
                        />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
        <ProblemAlert error={error} />
        <div className="notify-save">
          <button type="submit" className="button" disabled={busy || !dirty}>
            {busy ? t("saving", { ns: "common" }) : t("settings.save")}
          </button>
          {dirty && (
            <button type="button" onClick={clearDraft} disabled={busy}>
              {t("settings.discard")}
            </button>
          )}
          <p role="status" className="notify-count">
            {saved ? (
              <>
                <span aria-hidden="true">✓ </span>
                {t("settings.saved")}
              </>
            ) : dirty ? (
              t("settings.unsaved")
            ) : (
              ""
            )}
          </p>
        </div>
      </form>
    </section>
  );
}

const EMPTY_WATCH = { lat: "", lon: "", radius: "500", digest: false };

function Watches() {
  const { t } = useTranslation(["notify", "common"]);
  const [watches, setWatches] = useState<WatchView[] | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [form, setForm, clearForm] = useDraft("notify.watch", EMPTY_WATCH);
  const [fieldErrors, setFieldErrors] = useState<WatchFormErrors>({});
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [announce, setAnnounce] = useState("");

  useEffect(() => {
    const abort = new AbortController();
    setLoadError(null);
    api
      .get<WatchList>("/v1/me/watches", { signal: abort.signal })
      .then((list) => setWatches(list.items))
      .catch((e: unknown) => !abort.signal.aborted && setLoadError(e));
    return () => abort.abort();
  }, [attempt]);

  const parsed = watchRequest(form);
  const pending =
    "request" in parsed ? { lat: parsed.request.lat!, lon: parsed.request.lon!, radius: parsed.request.radius_m! } : null;

  async function add(e: FormEvent) {
    e.preventDefault();
    const result = watchRequest(form);
    if ("errors" in result) {
      setFieldErrors(result.errors);
      return;
    }
    setFieldErrors({});
    setBusy("add");
    setError(null);
    try {
      // A refusal (e.g. 409 "20 watches at most") is final: the next Add gets a fresh key (api/submitKey.ts).
      const created = await keys.send<WatchView>("POST", "/v1/me/watches", { json: result.request });
      setWatches((w) => [...(w ?? []).filter((x) => x.id !== created.id), created]);
      clearForm();
      setAnnounce(t("settings.added"));
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(null);
    }
  }

  async function remove(watch: WatchView) {
    setBusy(watch.id);
    setError(null);
    try {
      await api.delete(`/v1/me/watches/${encodeURIComponent(watch.id)}`);
      setWatches((w) => (w ?? []).filter((x) => x.id !== watch.id));
      setAnnounce(t("settings.removed"));
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(null);
    }
  }

  const describe = (w: WatchView) =>
    w.lat !== null && w.lon !== null && w.radius_m !== null
      ? t("settings.watchSummary", { radius: formatRadius(w.radius_m), lat: formatCoordinate(w.lat), lon: formatCoordinate(w.lon) })
      : t("settings.watchCells", { count: w.cells.length });

  return (
    <section aria-labelledby="notify-watches-title">
      <h2 id="notify-watches-title">{t("settings.watchesTitle")}</h2>
      <p>{t("settings.watchesIntro")}</p>
      <p className="visually-hidden" role="status">
        {announce}
      </p>
      {loadError ? (
        <ProblemAlert error={loadError} onRetry={() => setAttempt((n) => n + 1)} />
      ) : !watches ? (
        <Loading />
      ) : watches.length === 0 ? (
        <p>{t("settings.noWatches")}</p>
      ) : (
        <ul className="notify-watches">
          {watches.map((w) => (
            <li key={w.id} className="notify-watch">
              <div>
                <p>
                  <strong>{describe(w)}</strong>
                </p>
                <p>
                  {w.categories.length > 0
                    ? t("settings.watchCategories", { list: w.categories.join(", ") })
                    : t("settings.watchAllCategories")}
                  {" · "}
                  {w.digest ? t("settings.watchDigest") : t("settings.watchEach")}
                  {" · "}
                  {t("settings.watchCreated", { date: formatDate(w.created_at) })}
                </p>
              </div>
              <button
                type="button"
                onClick={() => void remove(w)}
                disabled={busy !== null}
                aria-label={
                  w.lat !== null && w.lon !== null && w.radius_m !== null
                    ? t("settings.removeNamed", {
                        radius: formatRadius(w.radius_m),
                        lat: formatCoordinate(w.lat),
                        lon: formatCoordinate(w.lon),
                      })
                    : undefined
                }
              >
                {t("settings.remove")}
              </button>
            </li>
          ))}
        </ul>
      )}
      <ProblemAlert error={error} fieldLabels={{ lat: t("settings.lat"), lon: t("settings.lon"), radius_m: t("settings.radius") }} />
      <form onSubmit={add} noValidate>
        <h3>{t("settings.addTitle")}</h3>
        <WatchMap
          watches={watches ?? []}
          pending={pending}
          label={t("settings.mapLabel")}
          onPick={(lat, lon) => setForm((f) => ({ ...f, lat: formatCoordinate(lat), lon: formatCoordinate(lon) }))}
        />
        <div className="notify-coords">
          <FormField label={t("settings.lat")} name="lat" error={fieldErrors.lat ? t("settings.errors.lat") : error} required>
            <input
              inputMode="decimal"
              autoComplete="off"
              value={form.lat}
              onChange={(e) => setForm((f) => ({ ...f, lat: e.target.value }))}
            />
          </FormField>
          <FormField label={t("settings.lon")} name="lon" error={fieldErrors.lon ? t("settings.errors.lon") : error} required>
            <input
              inputMode="decimal"
              autoComplete="off"
              value={form.lon}
              onChange={(e) => setForm((f) => ({ ...f, lon: e.target.value }))}
            />
          </FormField>
          <FormField
            label={t("settings.radius")}
            name="radius_m"
            hint={t("settings.radiusHint", { max: formatNumber(RADIUS_MAX_M) })}
            error={fieldErrors.radius ? t("settings.errors.radius", { max: formatNumber(RADIUS_MAX_M) }) : error}
            required
          >
            <input
              type="number"
              inputMode="numeric"
              min={1}
              max={RADIUS_MAX_M}
              step={50}
              value={form.radius}
              onChange={(e) => setForm((f) => ({ ...f, radius: e.target.value }))}
            />
          </FormField>
        </div>
        <label className="notify-digest">
          <input type="checkbox" checked={form.digest} onChange={(e) => setForm((f) => ({ ...f, digest: e.target.checked }))} />
          {t("settings.digest")}
        </label>
        <div className="notify-save">
          <button type="submit" className="button" disabled={busy !== null}>
            {busy === "add" ? t("settings.adding") : t("settings.add")}
          </button>
        </div>
      </form>
    </section>
  );
}
