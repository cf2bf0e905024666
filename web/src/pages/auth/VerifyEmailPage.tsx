import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api } from "../../api/client";
import type { EmailVerified } from "../../api/types";
import { useSession } from "../../auth/session";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { once, plausibleToken, retryable } from "./logic";
import { useTokenFromAddress } from "./parts";
import "./auth.css";

/** A link is single-use: one call per token, whatever re-renders or re-mounts happen. */
const calls = new Map<string, Promise<EmailVerified>>();

/**
 * Where the e-mailed verification link lands (the gateway sends browsers here): confirms the token
 * with GET /v1/auth/verify-email (as JSON), then says so and offers the next step.
 */
export default function VerifyEmailPage() {
  const { t } = useTranslation(["auth", "common"]);
  usePageTitle(t("titles.verifyEmail", { ns: "common" }));
  const token = useTokenFromAddress();
  const { status, reload } = useSession();
  const [state, setState] = useState<"checking" | "verified" | "failed">("checking");
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    if (!plausibleToken(token)) return;
    let live = true;
    setState("checking");
    once(calls, token, () =>
      api.get<EmailVerified>("/v1/auth/verify-email", { searchParams: { token }, headers: { Accept: "application/json" } }),
    ).then(
      () => {
        if (!live) return;
        setState("verified");
        void reload(); // a signed-in user's email_verified changes
      },
      (problem: unknown) => {
        if (!live) return;
        setError(problem);
        setState("failed");
      },
    );
    return () => {
      live = false;
    };
  }, [token, attempt, reload]);

  if (!plausibleToken(token)) {
    return (
      <section className="auth-page">
        <h1>{t("titles.verifyEmail", { ns: "common" })}</h1>
        <p>{t("verify.missing")}</p>
      </section>
    );
  }
  if (state === "checking") {
    return (
      <section className="auth-page">
        <h1>{t("titles.verifyEmail", { ns: "common" })}</h1>
        <Loading />
        <p className="visually-hidden">{t("verify.checking")}</p>
      </section>
    );
  }
  if (state === "verified") {
    return (
      <section className="auth-page">
        <h1>{t("verify.verifiedTitle")}</h1>
        <div className="auth-done" role="status">
          <p>{t("verify.verified")}</p>
        </div>
        <p>
          {status === "signedIn" ? (
            <Link className="button" to="/report">
              {t("verify.toReport")}
            </Link>
          ) : (
            <Link className="button" to="/signin">
              {t("verify.toSignIn")}
            </Link>
          )}
        </p>
      </section>
    );
  }
  return (
    <section className="auth-page">
      <h1>{t("verify.invalidTitle")}</h1>
      <ProblemAlert error={error} onRetry={retryable(error) ? () => setAttempt((n) => n + 1) : undefined} />
      <p>{t("verify.invalidHint")}</p>
      <div className="auth-links">
        <Link to="/signin">{t("verify.toSignIn")}</Link>
        <Link to="/password-reset">{t("signin.forgot")}</Link>
      </div>
    </section>
  );
}
