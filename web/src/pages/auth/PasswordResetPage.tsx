import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useSubmitKey } from "../../api/submitKey";
import { ProblemError } from "../../api/problem";
import type { PasswordResetAccepted, PasswordResetConfirm, PasswordResetRequest } from "../../api/types";
import { useSession } from "../../auth/session";
import { FormField } from "../../components/FormField";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { useDraft } from "../../lib/draft";
import { blockingIssues, PASSWORD_MAX, PASSWORD_MIN, passwordIssues } from "./logic";
import { PasswordRules, useTokenFromAddress } from "./parts";
import "./auth.css";

/**
 * Without a token: asks for the address and always answers "if an account uses it, a link is on its
 * way". With the e-mailed link's token (taken out of the address bar at once): the new password
 * twice, then POST /v1/auth/password-reset/confirm, which also ends every session of the account.
 */
export default function PasswordResetPage() {
  const token = useTokenFromAddress();
  return token ? <ChooseNewPassword token={token} /> : <RequestLink />;
}

function RequestLink() {
  const { t } = useTranslation(["auth", "common"]);
  usePageTitle(t("titles.passwordReset", { ns: "common" }));
  const [values, setValues, clearDraft] = useDraft("password-reset", { email: "" });
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body: PasswordResetRequest = { email: values.email.trim() };
    try {
      await keys.send<PasswordResetAccepted>("POST", "/v1/auth/password-reset", { json: body });
      setSentTo(body.email);
      clearDraft();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  if (sentTo) {
    return (
      <section className="auth-page">
        <h1>{t("reset.requestedTitle")}</h1>
        <div className="auth-done" role="status">
          <p>{t("reset.requested", { email: sentTo })}</p>
        </div>
        <p>
          <Link to="/signin">{t("reset.toSignIn")}</Link>
        </p>
      </section>
    );
  }
  return (
    <section className="auth-page">
      <h1>{t("titles.passwordReset", { ns: "common" })}</h1>
      <p>{t("reset.requestIntro")}</p>
      <ProblemAlert error={error} fieldLabels={{ email: t("email") }} />
      <form onSubmit={submit}>
        <FormField label={t("email")} name="email" error={error} required>
          <input
            type="email"
            name="email"
            autoComplete="email"
            inputMode="email"
            value={values.email}
            onChange={(e) => setValues({ email: e.target.value })}
            minLength={3}
            maxLength={320}
          />
        </FormField>
        <div className="auth-actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? t("reset.requestSubmitting") : t("reset.requestSubmit")}
          </button>
        </div>
      </form>
    </section>
  );
}

function ChooseNewPassword({ token }: { token: string }) {
  const { t } = useTranslation(["auth", "common"]);
  usePageTitle(t("reset.chooseTitle"));
  const { status, signOut } = useSession();
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [showPassword, setShowPassword] = useState(false);
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [localError, setLocalError] = useState<{ field: "new_password" | "confirm"; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const [blocking] = blockingIssues(passwordIssues(password, { confirm }));
    if (blocking) {
      setLocalError({
        field: blocking === "mismatch" ? "confirm" : "new_password",
        message: t(`issues.${blocking}`, { min: PASSWORD_MIN, max: PASSWORD_MAX }),
      });
      return;
    }
    setLocalError(null);
    setBusy(true);
    setError(null);
    const body: PasswordResetConfirm = { token, new_password: password };
    try {
      await keys.send("POST", "/v1/auth/password-reset/confirm", { json: body });
      setPassword("");
      setConfirm("");
      setDone(true);
      // The API ended every session of the account: forget this browser's, if it had one.
      if (status === "signedIn") void signOut();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  }

  if (done) {
    return (
      <section className="auth-page">
        <h1>{t("reset.doneTitle")}</h1>
        <div className="auth-done" role="status">
          <p>{t("reset.done")}</p>
        </div>
        <p>
          <Link className="button" to="/signin">
            {t("reset.toSignIn")}
          </Link>
        </p>
      </section>
    );
  }
  // A refused token (400: expired or used) cannot be fixed on this page: offer a new link.
  const tokenRefused = error instanceof ProblemError && error.status === 400;
  return (
    <section className="auth-page">
      <h1>{t("reset.chooseTitle")}</h1>
      <p>{t("reset.chooseIntro")}</p>
      <ProblemAlert error={error} fieldLabels={{ new_password: t("reset.newPassword") }} hideFields />
      {tokenRefused && (
        <p>
          {t("reset.invalidHint")} <Link to="/password-reset">{t("reset.askAgain")}</Link>
        </p>
      )}
      <form onSubmit={submit}>
        <FormField
          label={t("reset.newPassword")}
          name="new_password"
          error={localError?.field === "new_password" ? localError.message : error}
          required
        >
          <input
            type={showPassword ? "text" : "password"}
            name="new_password"
            autoComplete="new-password"
            autoFocus
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby="reset-password-rules"
            maxLength={PASSWORD_MAX}
          />
        </FormField>
        <PasswordRules id="reset-password-rules" password={password} />
        <FormField
          label={t("reset.confirmPassword")}
          error={localError?.field === "confirm" ? localError.message : undefined}
          required
        >
          <input
            type={showPassword ? "text" : "password"}
            name="confirm_password"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
            maxLength={PASSWORD_MAX}
          />
        </FormField>
        <label className="auth-show-password">
          <input type="checkbox" checked={showPassword} onChange={(e) => setShowPassword(e.target.checked)} />
          {t("showPassword")}
        </label>
        <div className="auth-actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? t("reset.chooseSubmitting") : t("reset.chooseSubmit")}
          </button>
        </div>
      </form>
    </section>
  );
}
