import { useEffect, useReducer, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { useSubmitKey } from "../../../api/submitKey";
import { ProblemError } from "../../../api/problem";
import { FormField } from "../../../components/FormField";
import { ProblemAlert } from "../../../components/ProblemAlert";
import {
  attributesReducer,
  DATATYPES,
  MAX_ATTRIBUTES,
  MAX_CANNED,
  toBody,
  uid,
  validateForm,
  type AdminCategory,
  type CannedDraft,
  type CategoryForm,
  type ErrorCode,
} from "./logic";

type Fields = Omit<CategoryForm, "attributes" | "canned">;

/** Create (code typed) or edit (code fixed) one category: PUT /v1/categories/{code}. */
export function CategoryEditor({
  initial,
  isNew,
  departments,
  onSaved,
  onCancel,
}: {
  initial: CategoryForm;
  isNew: boolean;
  departments: string[];
  onSaved: (saved: AdminCategory) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation(["admin", "common"]);
  const [fields, setFields] = useState<Fields>(() => {
    const { attributes: _a, canned: _c, ...rest } = initial;
    return rest;
  });
  const [attributes, dispatch] = useReducer(attributesReducer, initial.attributes);
  const [canned, setCanned] = useState<CannedDraft[]>(initial.canned);
  const keys = useSubmitKey();
  const [problem, setProblem] = useState<unknown>(null);
  const [local, setLocal] = useState<Record<string, ErrorCode>>({});
  const [busy, setBusy] = useState(false);
  const [status, setStatus] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  const form: CategoryForm = { ...fields, attributes, canned };
  const set = (name: keyof Fields) => (value: string) => setFields((f) => ({ ...f, [name]: value }));
  const err = (field: string): string | undefined => {
    const code = local[field];
    if (code) return t(`categories.errors.${code}`);
    return problem instanceof ProblemError ? problem.fieldError(field) : undefined;
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setStatus("");
    const found = validateForm(form, isNew);
    setLocal(found);
    if (Object.keys(found).length > 0) {
      setProblem(null);
      setStatus(t("categories.fixErrors"));
      return;
    }
    setBusy(true);
    try {
      const path = `/v1/categories/${encodeURIComponent(form.code.trim())}`;
      const json = toBody(form);
      const saved = await keys.send<AdminCategory>("PUT", path, { json });
      setProblem(null);
      onSaved(saved);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }

  const labels: Record<string, string> = {
    code: t("categories.code"),
    name: t("categories.name"),
    group: t("categories.group"),
    description: t("categories.description"),
    keywords: t("categories.keywords"),
    department: t("categories.department"),
    sla_hours: t("categories.slaHours"),
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-labelledby="category-editor-title">
      <h2 id="category-editor-title" tabIndex={-1} ref={heading}>
        {isNew ? t("categories.newTitle") : t("categories.editTitle", { name: initial.name || initial.code })}
      </h2>
      <ProblemAlert error={problem} fieldLabels={labels} />
      <p role="status" className="field-error">
        {status}
      </p>
      <div className="admin-grid">
        {isNew ? (
          <FormField label={labels.code} error={err("code")} hint={t("categories.codeHint")} required>
            <input value={fields.code} onChange={(e) => set("code")(e.target.value)} autoComplete="off" />
          </FormField>
        ) : (
          <p>
            {labels.code}: <span className="code">{fields.code}</span>
          </p>
        )}
        <FormField label={labels.name} error={err("name")} required>
          <input value={fields.name} onChange={(e) => set("name")(e.target.value)} maxLength={200} />
        </FormField>
        <FormField label={labels.group} error={err("group")}>
          <input value={fields.group} onChange={(e) => set("group")(e.target.value)} maxLength={100} />
        </FormField>
        <FormField label={labels.department} error={err("department")} hint={t("categories.departmentHint")} required>
          <input
            value={fields.department}
            onChange={(e) => set("department")(e.target.value)}
            list="category-departments"
            autoComplete="off"
          />
        </FormField>
        <datalist id="category-departments">
          {departments.map((d) => (
            <option key={d} value={d} />
          ))}
        </datalist>
        <FormField label={labels.sla_hours} error={err("sla_hours")} hint={t("categories.slaHint")} required>
          <input
            type="number"
            inputMode="numeric"
            min={1}
            max={8760}
            value={fields.sla_hours}
            onChange={(e) => set("sla_hours")(e.target.value)}
          />
        </FormField>
        <FormField label={labels.keywords} error={err("keywords")} hint={t("categories.keywordsHint")}>
          <input value={fields.keywords} onChange={(e) => set("keywords")(e.target.value)} />
        </FormField>
      </div>
      <FormField label={labels.description} error={err("description")}>
        <textarea value={fields.description} onChange={(e) => set("description")(e.target.value)} maxLength={1000} rows={3} />
      </FormField>

      <section className="admin-panel" aria-labelledby="attributes-title">
        <h3 id="attributes-title">{t("categories.attributes")}</h3>
        {attributes.length === 0 && <p>{t("categories.noAttributes")}</p>}
        {attributes.map((a, i) => {
          const at = `attributes.${i}`;
          const n = i + 1;
          const name = a.code || String(n);
          return (
            <fieldset key={a.uid} className="admin-row">
              <legend>{t("categories.attributeN", { n, code: a.code })}</legend>
              <div className="admin-grid">
                <FormField label={t("categories.attrCode")} error={err(`${at}.code`)} hint={t("categories.attrCodeHint")} required>
                  <input value={a.code} onChange={(e) => dispatch({ type: "change", uid: a.uid, patch: { code: e.target.value } })} />
                </FormField>
                <FormField label={t("categories.attrLabel")} error={err(`${at}.description`)}>
                  <input
                    value={a.description}
                    maxLength={500}
                    onChange={(e) => dispatch({ type: "change", uid: a.uid, patch: { description: e.target.value } })}
                  />
                </FormField>
                <FormField label={t("categories.attrType")} error={err(`${at}.datatype`)}>
                  <select
                    value={a.datatype}
                    onChange={(e) =>
                      dispatch({ type: "change", uid: a.uid, patch: { datatype: e.target.value as (typeof DATATYPES)[number] } })
                    }
                  >
                    {DATATYPES.map((d) => (
                      <option key={d} value={d}>
                        {t(`categories.datatype.${d}`)}
                      </option>
                    ))}
                  </select>
                </FormField>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={a.required}
                    onChange={(e) => dispatch({ type: "change", uid: a.uid, patch: { required: e.target.checked } })}
                  />
                  {t("categories.attrRequired")}
                </label>
              </div>
              {a.datatype === "singlevaluelist" && (
                <FormField label={t("categories.attrOptions")} error={err(`${at}.values`)} hint={t("categories.attrOptionsHint")} required>
                  <textarea
                    rows={3}
                    value={a.options}
                    onChange={(e) => dispatch({ type: "change", uid: a.uid, patch: { options: e.target.value } })}
                  />
                </FormField>
              )}
              <div className="admin-actions">
                <button
                  type="button"
                  className="secondary"
                  disabled={i === 0}
                  onClick={() => dispatch({ type: "move", uid: a.uid, by: -1 })}
                  aria-label={t("categories.moveUp", { name })}
                >
                  <span aria-hidden="true">↑ </span>
                  {t("categories.up")}
                </button>
                <button
                  type="button"
                  className="secondary"
                  disabled={i === attributes.length - 1}
                  onClick={() => dispatch({ type: "move", uid: a.uid, by: 1 })}
                  aria-label={t("categories.moveDown", { name })}
                >
                  <span aria-hidden="true">↓ </span>
                  {t("categories.down")}
                </button>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => dispatch({ type: "remove", uid: a.uid })}
                  aria-label={t("categories.removeAttribute", { name })}
                >
                  {t("buttons.delete", { ns: "common" })}
                </button>
              </div>
            </fieldset>
          );
        })}
        <button type="button" className="secondary" onClick={() => dispatch({ type: "add" })} disabled={attributes.length >= MAX_ATTRIBUTES}>
          {t("categories.addAttribute")}
        </button>
      </section>

      <section className="admin-panel" aria-labelledby="canned-title">
        <h3 id="canned-title">{t("categories.canned")}</h3>
        <p className="hint">{t("categories.cannedHint")}</p>
        {err("canned_responses") && <p className="field-error">{err("canned_responses")}</p>}
        {canned.length === 0 && <p>{t("categories.noCanned")}</p>}
        {canned.map((c, i) => {
          const at = `canned_responses.${i}`;
          const change = (patch: Partial<CannedDraft>) => setCanned((list) => list.map((x) => (x.uid === c.uid ? { ...x, ...patch } : x)));
          return (
            <fieldset key={c.uid} className="admin-row">
              <legend>{t("categories.cannedN", { n: i + 1 })}</legend>
              <div className="admin-grid">
                <FormField label={t("categories.cannedId")} error={err(`${at}.id`)} hint={t("categories.cannedIdHint")} required>
                  <input value={c.id} onChange={(e) => change({ id: e.target.value })} maxLength={64} autoComplete="off" />
                </FormField>
                <FormField label={t("categories.cannedTitle")} error={err(`${at}.title`)} required>
                  <input value={c.title} onChange={(e) => change({ title: e.target.value })} maxLength={80} />
                </FormField>
              </div>
              <FormField label={t("categories.cannedBody")} error={err(`${at}.body`)} required>
                <textarea rows={3} value={c.body} onChange={(e) => change({ body: e.target.value })} maxLength={2000} />
              </FormField>
              <button
                type="button"
                className="secondary"
                onClick={() => setCanned((list) => list.filter((x) => x.uid !== c.uid))}
                aria-label={t("categories.removeCanned", { n: i + 1 })}
              >
                {t("buttons.delete", { ns: "common" })}
              </button>
            </fieldset>
          );
        })}
        <button
          type="button"
          className="secondary"
          disabled={canned.length >= MAX_CANNED}
          onClick={() => setCanned((list) => [...list, { uid: uid(), id: "", title: "", body: "" }])}
        >
          {t("categories.addCanned")}
        </button>
      </section>

      <div className="admin-actions">
        <button type="submit" disabled={busy}>
          {busy ? t("saving", { ns: "common" }) : t("categories.save")}
        </button>
        <button type="button" className="secondary" onClick={onCancel} disabled={busy}>
          {t("buttons.cancel", { ns: "common" })}
        </button>
      </div>
    </form>
  );
}
