/** A category's attributes as inputs: text, number, yes/no, or a list of choices (AttributeSpec.datatype). */
import { useTranslation } from "react-i18next";
import type { AttributeSpec, CategorySpec } from "../../../api/types";
import { FormField } from "../../../components/FormField";

/** "depth_cm" -> "Depth cm": a label when the spec has no description. */
export function attributeLabel(spec: AttributeSpec): string {
  if (spec.description) return spec.description;
  const words = spec.code.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function AttributeFields({
  category,
  values,
  onChange,
  errorOf,
}: {
  category: CategorySpec | undefined;
  values: Record<string, string>;
  onChange: (code: string, value: string) => void;
  errorOf: (field: string) => string | undefined;
}) {
  const { t } = useTranslation("report");
  const specs = category?.attributes ?? [];
  if (specs.length === 0) return null;
  return (
    <fieldset className="report-attributes">
      <legend>{t("attributes.legend", { category: category?.name ?? "" })}</legend>
      {specs.map((spec) => {
        const id = `report-attr-${spec.code}`;
        const value = values[spec.code] ?? "";
        const common = { id, value, required: spec.required ?? false };
        let control;
        switch (spec.datatype) {
          case "number":
            control = <input {...common} type="text" inputMode="decimal" autoComplete="off" onChange={(e) => onChange(spec.code, e.target.value)} />;
            break;
          case "boolean":
            control = (
              <select {...common} onChange={(e) => onChange(spec.code, e.target.value)}>
                <option value="">{spec.required ? t("attributes.choose") : t("attributes.notSaying")}</option>
                <option value="true">{t("attributes.yes")}</option>
                <option value="false">{t("attributes.no")}</option>
              </select>
            );
            break;
          case "singlevaluelist":
            control = (
              <select {...common} onChange={(e) => onChange(spec.code, e.target.value)}>
                <option value="">{spec.required ? t("attributes.choose") : t("attributes.notSaying")}</option>
                {(spec.values ?? []).map((v) => (
                  <option key={v.key} value={v.key}>
                    {v.name}
                  </option>
                ))}
              </select>
            );
            break;
          default:
            control = <input {...common} type="text" maxLength={500} onChange={(e) => onChange(spec.code, e.target.value)} />;
        }
        return (
          <FormField
            key={spec.code}
            label={attributeLabel(spec)}
            name={`attributes.${spec.code}`}
            required={spec.required ?? false}
            error={errorOf(`attributes.${spec.code}`)}
            hint={spec.datatype === "number" ? t("attributes.numberHint") : undefined}
          >
            {control}
          </FormField>
        );
      })}
    </fieldset>
  );
}
