import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useSearchParams } from "react-router";
import { safeNext } from "../../auth/RequireRole";
import { useSession } from "../../auth/session";
import { FormField } from "../../components/FormField";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { useDraft } from "../../lib/draft";
import "./auth.css";

/** E-mail and password; then the page the visitor came from (`?next=`, only a path on this site). */
export default function SignInPage() {
  const { t } = useTranslation(["auth", "common"]);
  usePageTitle(t("titles.signin", { ns: "common" }));
  const { signIn, user } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  // The e-mail is kept if the page reloads; the password never is.
  const [values, setValues, clearDraft] = useDraft("signin", { email: "" });
  const [password, setPassword] = useState("");
  const [showPassword, setShowPassword] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(values.email.trim(), password);
      clearDraft();
      void navigate(next, { replace: true });
    } catch (problem) {
      setError(problem);
      setBusy(false);
    }
  }

  return (
    <section className="auth-page">
      <h1>{t("titles.signin", { ns: "common" })}</h1>
      {user ? (
        <p>
          {t("signin.already", { name: user.display_name })} <Link to={next}>{t("signin.continue")}</Link>
        </p>
      ) : (
        <p>{t("signin.intro")}</p>
      )}
      <ProblemAlert error={error} fieldLabels={{ username: t("email"), password: t("password") }} />
      <form onSubmit={submit} noValidate={false}>
        <FormField label={t("email")} name="username" error={error} required>
          <input
            type="email"
            name="email"
            autoComplete="username"
            inputMode="email"
            value={values.email}
            onChange={(e) => setValues({ email: e.target.value })}
            maxLength={320}
          />
        </FormField>
        <FormField label={t("password")} name="password" error={error} required>
          <input
            type={showPassword ? "text" : "password"}
            name="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            maxLength={128}
          />
        </FormField>
        <label className="auth-show-password">
          <input type="checkbox" checked={showPassword} onChange={(e) => setShowPassword(e.target.checked)} />
          {t("showPassword")}
        </label>
        <div className="auth-actions">
          <button type="submit" className="button" disabled={busy}>
            {busy ? t("signin.submitting") : t("signin.submit")}
          </button>
        </div>
      </form>
      <div className="auth-links">
        <Link to="/password-reset">{t("signin.forgot")}</Link>
        <p>
          {t("signin.noAccount")} <Link to="/signup">{t("signin.signUp")}</Link>
        </p>
      </div>
    </section>
  );
}
