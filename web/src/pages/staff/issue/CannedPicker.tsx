import { useId, useState } from "react";
import { useTranslation } from "react-i18next";
import type { CannedResponse } from "../queue/categories";

/** Picks one of the category's canned responses and hands its text over (to edit before sending). */
export function CannedPicker({
  responses,
  onPick,
  label,
}: {
  responses: CannedResponse[];
  onPick: (body: string) => void;
  label: string;
}) {
  const { t } = useTranslation("staff");
  const id = useId();
  const [value, setValue] = useState("");
  if (responses.length === 0) return null;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        value={value}
        onChange={(e) => {
          setValue(e.target.value);
          const chosen = responses.find((r) => r.id === e.target.value);
          if (chosen) onPick(chosen.body);
        }}
      >
        <option value="">{t("issue.cannedNone")}</option>
        {responses.map((r) => (
          <option key={r.id} value={r.id}>
            {r.title}
          </option>
        ))}
      </select>
    </div>
  );
}
