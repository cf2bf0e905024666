import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { useSubmitKey } from "../../api/submitKey";
import type { RegisterRequest, RegistrationAccepted } from "../../api/types";
import { FormField } from "../../components/FormField";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { useDraft } from "../../lib/draft";
import { blockingIssues, PASSWORD_MAX, PASSWORD_MIN, passwordIssues } from "./logic";
import { PasswordRules } from "./parts";
import "./auth.css";

/**
 * Name, e-mail and password. The API answers 202 whether the address is new or taken (it e-mails
 * either way), so the page only ever says "check your inbox".
 */
export default function SignUpPage() {
  const { t } = useTranslation(["auth", "common"]);
  usePageTitle(t("titles.signup", { ns: "common" }));
  const [values, setValues, clearDraft] = useDraft("signup", { display_name: "", email: "" });
  const [password, setPassword] = useState("");
  const [showPassword, setShowPassword] = useState(false);
  const keys = useSubmitKey();
  const [error, setError] = useState<unknown>(null);
  const [localError, setLocalError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const [blocking] = blockingIssues(passwordIssues(password));
    if (blocking) {
      setLocalError(t(`issues.${blocking}`, { min: PASSWORD_MIN, max: PASSWORD_MAX }));
      return;
    }
    setLocalError(null);
    setBusy(true);
    setError(null);
    const body: RegisterRequest = { display_name: values.display_name.trim(), email: values.email.trim(), password };
    try {
      await keys.send<RegistrationAccepted>("POST", "/v1/auth/register", { json: body });
      setSentTo(body.email);
      setPassword("");
      clearDraft();
    } catch (problem) {
      setError(problem); // the same key only when the outcome is unknown (api/submitKey.ts)
    } finally {
      setBusy(false);
    }
  }

  if (sentTo) {
    return (
      <section className="auth-page">
        <h1>{t("signup.doneTitle")}</h1>
        <div className="auth-done" role="status">
          <p>{t("signup.done", { email: sentTo })}</p>
        </div>
        <p>{t("signup.doneHint")}</p>
        <p>
          <Link className="button" to="/signin">
            {t("signup.toSignIn")}
          </Link>
        </p>
      </section>
    );
  }

  const labels = { display_name: t("displayName"), email: t("email"), password: t("password") };
  return (
    <section className="auth-page">
      <h1>{t("titles.signup", { ns: "common" })}</h1>
      <p>{t("signup.intro")}</p>
      <ProblemAlert error={error} fieldLabels={labels} hideFields />
      <form onSubmit={submit}>
        <FormField label={labels.display_name} name="display_name" error={error} hint={t("displayNameHint")} required>
          <input
            type="text"
            name="display_name"
            autoComplete="name"
            value={values.display_name}
            onChange={(e) => setValues((v) => ({ ...v, display_name: e.target.value }))}
            maxLength={100}
          />
        </FormField>
        <FormField label={labels.email} name="email" error={error} required>
          <input
            type="email"
            name="email"
            autoComplete="email"
            inputMode="email"
            value={values.email}
            onChange={(e) => setValues((v) => ({ ...v, email: e.target.value }))}
            minLength={3}
            maxLength={320}
          />
        </FormField>
        <FormField label={labels.password} name="password" error={localError ?? error} required>
          <input
            type={showPassword ? "text" : "password"}
            name="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            aria-describedby="signup-password-rules"
            maxLength={PASSWORD_MAX}
          />
        </FormField>
        <PasswordRules id="signup-password-rules" password={password} email={values.email} name={values.display_name} />
        <label className="auth-show-password">
          <input type="checkbox" checked={showPassword} onChange={(e) => setShowPassword(e.target.checked)} />
          {t("showPassword")}
        </label>
        <div className="auth-actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? t("signup.submitting") : t("signup.submit")}
          </button>
        </div>
      </form>
      <p className="auth-links">
        <span>
          {t("signup.haveAccount")} <Link to="/signin">{t("signup.signIn")}</Link>
        </span>
      </p>
    </section>
  );
}
