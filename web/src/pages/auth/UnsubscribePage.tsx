import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import { useSubmitKey } from "../../api/submitKey";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { plausibleToken, retryable } from "./logic";
import { useTokenFromAddress } from "./parts";
import "./auth.css";

interface UnsubscribeInfo {
  moment: string;
}
interface Unsubscribed {
  unsubscribed: string;
}

/**
 * Where an e-mail's "unsubscribe" link lands: GET (changes nothing: mail scanners follow links)
 * says which e-mails stop; the button POSTs. Mail clients keep the API's one-click POST
 * (List-Unsubscribe); this page is for people.
 */
export default function UnsubscribePage() {
  const { t } = useTranslation(["auth", "notify", "common"]);
  usePageTitle(t("titles.unsubscribe", { ns: "common" }));
  const token = useTokenFromAddress();
  const valid = plausibleToken(token, 1000, 1);
  const [info, setInfo] = useState<UnsubscribeInfo | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!valid) return;
    const abort = new AbortController();
    setLoadError(null);
    api
      .get<UnsubscribeInfo>("/v1/notifications/unsubscribe", {
        searchParams: { token },
        headers: { Accept: "application/json" },
        signal: abort.signal,
      })
      .then(setInfo)
      .catch((e: unknown) => !abort.signal.aborted && setLoadError(e));
    return () => abort.abort();
  }, [token, valid, attempt]);

  const what = (moment: string) =>
    moment === "all" ? t("unsubscribe.all") : t(`moments.${moment}`, { ns: "notify", defaultValue: moment.replaceAll("_", " ") });

  async function unsubscribe() {
    if (!token) return;
    setBusy(true);
    setError(null);
    try {
      const result = await keys.send<Unsubscribed>("POST", "/v1/notifications/unsubscribe", { searchParams: { token } });
      setDone(result.unsubscribed);
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  const settingsLink = (
    <p>
      <Link to="/me/settings">{t("unsubscribe.settings")}</Link>
    </p>
  );
  if (!valid) {
    return (
      <section className="auth-page">
        <h1>{t("titles.unsubscribe", { ns: "common" })}</h1>
        <p>{t("unsubscribe.missing")}</p>
        {settingsLink}
      </section>
    );
  }
  if (done) {
    return (
      <section className="auth-page">
        <h1>{t("unsubscribe.doneTitle")}</h1>
        <div className="auth-done" role="status">
          <p>{t("unsubscribe.done", { what: what(done) })}</p>
        </div>
        {settingsLink}
      </section>
    );
  }
  return (
    <section className="auth-page">
      <h1>{t("titles.unsubscribe", { ns: "common" })}</h1>
      {loadError ? (
        <>
          <ProblemAlert error={loadError} onRetry={retryable(loadError) ? () => setAttempt((n) => n + 1) : undefined} />
          {settingsLink}
        </>
      ) : !info ? (
        <Loading />
      ) : (
        <>
          <p>{t("unsubscribe.intro")}</p>
          <p>
            <strong>{t("unsubscribe.what", { what: what(info.moment) })}</strong>
          </p>
          <ProblemAlert error={error} />
          <div className="auth-actions">
            <button type="button" className="button" onClick={() => void unsubscribe()} disabled={busy}>
              {busy ? t("unsubscribe.submitting") : t("unsubscribe.submit")}
            </button>
          </div>
          {settingsLink}
        </>
      )}
    </section>
  );
}
