import { useTranslation } from "react-i18next";
import { ProblemError } from "../api/problem";

/**
 * The message to show for a failure: a translated sentence when no server answered (status 0: network,
 * timeout), else the server's `detail`, else a translated sentence for the status.
 */
export function useProblemMessage(): (error: unknown) => string {
  const { t } = useTranslation();
  return (error: unknown) => {
    if (!(error instanceof ProblemError)) return t("errors.title");
    if (error.status === 0 || error.clientMade) return error.title === "Timeout" ? t("errors.timeout") : t("errors.network");
    if (error.detail) return error.detail;
    const byStatus: Record<number, string> = {
      401: "errors.unauthorized",
      403: "errors.forbidden",
      404: "errors.notFound",
      409: "errors.conflict",
      429: "errors.rateLimited",
      502: "errors.unavailable",
      503: "errors.unavailable",
      504: "errors.unavailable",
    };
    return t(byStatus[error.status] ?? (error.status >= 500 ? "errors.server" : "errors.title"));
  };
}

/**
 * Shows a failed call: role="alert", the problem's detail and, for a 422, each field's message.
 * Pass `fieldLabels` to name fields as the form does; fields shown next to their inputs can be hidden with `hideFields`.
 */
export function ProblemAlert({
  error,
  fieldLabels,
  hideFields = false,
  onRetry,
}: {
  error: unknown;
  fieldLabels?: Record<string, string>;
  hideFields?: boolean;
  onRetry?: () => void;
}) {
  const { t } = useTranslation();
  const message = useProblemMessage();
  if (!error) return null;
  const fields = error instanceof ProblemError && !hideFields ? error.errors : [];
  return (
    <div className="problem" role="alert">
      <p className="problem-title">
        <span aria-hidden="true">⚠ </span>
        {message(error)}
      </p>
      {fields.length > 0 && (
        <>
          <p>{t("errors.fields")}</p>
          <ul>
            {fields.map((f, i) => (
              <li key={`${f.field}-${i}`}>
                <strong>{fieldLabels?.[f.field] ?? f.field}</strong>: {f.message}
              </li>
            ))}
          </ul>
        </>
      )}
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t("buttons.retry")}
        </button>
      )}
    </div>
  );
}
