import { useEffect, useId, useRef, useState } from "react";
import { useTranslation } from "react-i18next";

/** A secret the API shows once: a warning, the value (selectable), a copy button, and a dismiss button. */
export function OneTimeSecret({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  const { t } = useTranslation("admin");
  const [copied, setCopied] = useState<"yes" | "no" | null>(null);
  const id = useId();
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), []);
  async function copy() {
    try {
      await navigator.clipboard.writeText(value);
      setCopied("yes");
    } catch {
      setCopied("no");
    }
  }
  return (
    <div className="one-time-secret" role="region" aria-labelledby={`${id}-h`} tabIndex={-1} ref={ref}>
      <h2 id={`${id}-h`}>{label}</h2>
      <p className="warning">
        <span aria-hidden="true">⚠ </span>
        {t("secret.warning")}
      </p>
      <label htmlFor={id}>{label}</label>
      <input id={id} readOnly value={value} className="secret-value" onFocus={(e) => e.currentTarget.select()} />
      <div className="admin-actions">
        <button type="button" onClick={() => void copy()}>
          {t("secret.copy")}
        </button>
        <button type="button" className="secondary" onClick={onDone}>
          {t("secret.done")}
        </button>
      </div>
      <p role="status">{copied === "yes" ? t("secret.copied") : copied === "no" ? t("secret.copyFailed") : ""}</p>
    </div>
  );
}
