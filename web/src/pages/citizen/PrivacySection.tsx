import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useNavigate } from "react-router";
import { api } from "../../api/client";
import { clearTokens } from "../../api/tokens";
import { FormField } from "../../components/FormField";
import { ProblemAlert } from "../../components/ProblemAlert";

/** The user's rights over their data: download it all (GET /v1/me/export), or delete the account (DELETE /v1/me). */
export function PrivacySection() {
  const { t } = useTranslation("me");
  return (
    <section aria-labelledby="privacy-title">
      <h2 id="privacy-title">{t("privacy.title")}</h2>
      <p>{t("privacy.intro")}</p>
      <DownloadData />
      <DeleteAccount />
    </section>
  );
}

function DownloadData() {
  const { t } = useTranslation("me");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);

  async function download() {
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      const data = await api.get<unknown>("/v1/me/export");
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `snapfix-export-${new Date().toISOString().slice(0, 10)}.json`;
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(url);
      setDone(true);
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="privacy-download">
      <button type="button" className="button" onClick={() => void download()} disabled={busy}>
        {busy ? t("privacy.downloading") : t("privacy.download")}
      </button>
      <ProblemAlert error={error} />
      <p role="status">{done ? t("privacy.downloaded") : ""}</p>
    </div>
  );
}

function DeleteAccount() {
  const { t } = useTranslation("me");
  const navigate = useNavigate();
  const [password, setPassword] = useState("");
  const [confirmed, setConfirmed] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function remove(e: FormEvent) {
    e.preventDefault();
    if (!password || !confirmed) return;
    setBusy(true);
    setError(null);
    try {
      await api.delete("/v1/me", { json: { password } });
      // Off this page first (else its guard sends the signed-out visitor to sign in), then forget the
      // tokens: every session ended with the account, so there is nothing to sign out of.
      await navigate("/", { replace: true });
      clearTokens();
    } catch (problem) {
      setError(problem);
      setBusy(false);
    }
  }

  return (
    <form onSubmit={(e) => void remove(e)} aria-labelledby="privacy-delete-title">
      <h3 id="privacy-delete-title">{t("privacy.deleteTitle")}</h3>
      <p>{t("privacy.deleteIntro")}</p>
      <FormField label={t("privacy.password")} name="password" error={error} required>
        <input
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
      </FormField>
      <label>
        <input type="checkbox" checked={confirmed} onChange={(e) => setConfirmed(e.target.checked)} />{" "}
        {t("privacy.confirm")}
      </label>
      <ProblemAlert error={error} />
      <button type="submit" className="button" disabled={busy || !password || !confirmed}>
        {busy ? t("privacy.deleting") : t("privacy.delete")}
      </button>
    </form>
  );
}
