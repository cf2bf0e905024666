import { useId } from "react";
import { useTranslation } from "react-i18next";

/** Departments: a checkbox per known department plus free entry for others (comma-separated). */
export function DepartmentsPicker({
  choices,
  ticked,
  other,
  onTicked,
  onOther,
  error,
}: {
  choices: string[];
  ticked: string[];
  other: string;
  onTicked: (list: string[]) => void;
  onOther: (text: string) => void;
  error?: string;
}) {
  const { t } = useTranslation("admin");
  const id = useId();
  return (
    <fieldset className="admin-row">
      <legend>{t("users.departments")}</legend>
      {choices.length > 0 && (
        <ul className="checkbox-list">
          {choices.map((d) => (
            <li key={d}>
              <label>
                <input
                  type="checkbox"
                  checked={ticked.includes(d)}
                  onChange={(e) => onTicked(e.target.checked ? [...ticked, d] : ticked.filter((x) => x !== d))}
                />
                {d}
              </label>
            </li>
          ))}
        </ul>
      )}
      <div className={error ? "field field-invalid" : "field"}>
        <label htmlFor={id}>{t("users.otherDepartments")}</label>
        <p className="hint" id={`${id}-hint`}>
          {t("users.otherDepartmentsHint")}
        </p>
        <input
          id={id}
          value={other}
          onChange={(e) => onOther(e.target.value)}
          aria-describedby={error ? `${id}-hint ${id}-error` : `${id}-hint`}
          aria-invalid={error ? true : undefined}
          autoComplete="off"
        />
        {error && (
          <p className="field-error" id={`${id}-error`}>
            <span aria-hidden="true">✖ </span>
            {error}
          </p>
        )}
      </div>
    </fieldset>
  );
}
