import { cloneElement, isValidElement, useId, type ReactElement, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { ProblemError } from "../api/problem";

interface ControlProps {
  id?: string;
  "aria-describedby"?: string;
  "aria-invalid"?: boolean;
  required?: boolean;
}

/**
 * A label, one control, an optional hint and an error message, wired together:
 *
 *   <FormField label={t("title")} error={problem} name="title" hint={t("titleHint")}>
 *     <input value={v.title} onChange={...} />
 *   </FormField>
 *
 * `error` is a string, or the ProblemError of the last submit (its message for `name` is shown).
 */
export function FormField({
  label,
  name,
  error,
  hint,
  required = false,
  children,
}: {
  label: ReactNode;
  name?: string;
  error?: string | ProblemError | null | unknown;
  hint?: ReactNode;
  required?: boolean;
  children: ReactElement<ControlProps>;
}) {
  const { t } = useTranslation();
  const autoId = useId();
  const id = (isValidElement(children) && children.props.id) || `field-${autoId}`;
  const message =
    typeof error === "string" ? error : error instanceof ProblemError && name ? error.fieldError(name) : undefined;
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = message ? `${id}-error` : undefined;
  const describedBy = [children.props["aria-describedby"], hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={message ? "field field-invalid" : "field"}>
      <label htmlFor={id}>
        {label}
        {required && <span className="required"> ({t("required")})</span>}
      </label>
      {hint && (
        <p id={hintId} className="hint">
          {hint}
        </p>
      )}
      {cloneElement(children, {
        id,
        "aria-describedby": describedBy,
        "aria-invalid": message ? true : undefined,
        required: required || children.props.required,
      })}
      {message && (
        <p id={errorId} className="field-error">
          <span aria-hidden="true">✖ </span>
          {message}
        </p>
      )}
    </div>
  );
}
