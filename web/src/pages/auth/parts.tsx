/** Pieces shared by the account screens: the password rules, live, and the token taken from the address. */
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useLocation, useNavigate } from "react-router";
import { PASSWORD_MAX, PASSWORD_MIN, passwordIssues, withoutToken } from "./logic";
import "./auth.css";

/** The API's password rules, each marked met or not in words and a symbol (never colour alone). */
export function PasswordRules({ id, password, email, name }: { id: string; password: string; email?: string; name?: string }) {
  const { t } = useTranslation("auth");
  const issues = passwordIssues(password, { email, name });
  const rows: { key: string; text: string; met: boolean | null }[] = [
    {
      key: "length",
      text: t("rules.length", { min: PASSWORD_MIN, max: PASSWORD_MAX }),
      met: password ? !issues.includes("tooShort") && !issues.includes("tooLong") : null,
    },
    {
      key: "personal",
      text: t("rules.personal"),
      met: password ? !issues.includes("containsEmail") && !issues.includes("containsName") : null,
    },
    { key: "guess", text: t("rules.guess"), met: null },
  ];
  return (
    <div id={id} className="auth-rules">
      <p>{t("rules.title")}</p>
      <ul>
        {rows.map((r) => (
          <li key={r.key} className={r.met === null ? undefined : r.met ? "rule-met" : "rule-unmet"}>
            {r.met !== null && (
              <>
                <span aria-hidden="true">{r.met ? "✓ " : "✗ "}</span>
                <span className="visually-hidden">{r.met ? t("rules.met") : t("rules.notMet")}: </span>
              </>
            )}
            {r.text}
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * The `token` of an e-mailed link: read once, then removed from the address bar (a replace, so
 * it is not in the history either). Later renders keep the value read first.
 */
export function useTokenFromAddress(): string | null {
  const location = useLocation();
  const navigate = useNavigate();
  const [token] = useState(() => new URLSearchParams(location.search).get("token"));
  const hasToken = new URLSearchParams(location.search).has("token");
  useEffect(() => {
    if (hasToken) {
      void navigate(withoutToken(location.pathname, location.search, location.hash), {
        replace: true,
        preventScrollReset: true,
      });
    }
  }, [hasToken, location.pathname, location.search, location.hash, navigate]);
  return token;
}
