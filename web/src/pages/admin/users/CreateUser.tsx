import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useSubmitKey } from "../../../api/submitKey";
import type { Role } from "../../../api/types";
import { FormField } from "../../../components/FormField";
import { useDraft } from "../../../lib/draft";
import { ProblemAlert } from "../../../components/ProblemAlert";
import { DepartmentsPicker } from "./DepartmentsPicker";
import { createRequest, emptyCreateForm, type AdminUserView } from "./logic";
import { departmentsError } from "./UserAccess";

/** POST /v1/admin/users: a staff or admin account. */
export function CreateUser({
  choices,
  onCreated,
  onCancel,
}: {
  choices: string[];
  onCreated: (u: AdminUserView) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation(["admin", "common"]);
  // Everything typed but the password is kept in a draft (sessionStorage): it survives a session that ends.
  const [draft, setDraft, clearDraft] = useDraft("admin.user.new", withoutPassword(emptyCreateForm()));
  const [password, setPassword] = useState("");
  const form = { ...draft, password };
  const keys = useSubmitKey();
  const [problem, setProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof typeof form>(name: K, value: (typeof form)[K]) =>
    name === "password" ? setPassword(value as string) : setDraft((f) => ({ ...f, [name]: value }));

  async function submit() {
    setBusy(true);
    try {
      const json = createRequest(form);
      const created = await keys.send<AdminUserView>("POST", "/v1/admin/users", { json });
      setProblem(null);
      clearDraft();
      setPassword("");
      onCreated(created);
    } catch (e) {
      setProblem(e);
    } finally {
      setBusy(false);
    }
  }

  const labels = {
    email: t("users.email"),
    display_name: t("users.name"),
    password: t("users.password"),
    role: t("users.role"),
    departments: t("users.departments"),
  };
  return (
    <form
      className="admin-panel"
      aria-labelledby="create-user-title"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <h2 id="create-user-title">{t("users.createTitle")}</h2>
      <ProblemAlert error={problem} fieldLabels={labels} />
      <div className="admin-grid">
        <FormField label={labels.email} name="email" error={problem} required>
          <input type="email" autoComplete="off" value={form.email} onChange={(e) => set("email", e.target.value)} />
        </FormField>
        <FormField label={labels.display_name} name="display_name" error={problem} required>
          <input value={form.display_name} maxLength={100} onChange={(e) => set("display_name", e.target.value)} />
        </FormField>
        <FormField label={labels.password} name="password" error={problem} hint={t("users.passwordHint")} required>
          <input
            type="password"
            autoComplete="new-password"
            minLength={10}
            value={form.password}
            onChange={(e) => set("password", e.target.value)}
          />
        </FormField>
        <FormField label={labels.role} name="role" error={problem}>
          <select value={form.role} onChange={(e) => set("role", e.target.value as Role)}>
            <option value="staff">{t("role.staff", { ns: "common" })}</option>
            <option value="admin">{t("role.admin", { ns: "common" })}</option>
          </select>
        </FormField>
      </div>
      <DepartmentsPicker
        choices={choices}
        ticked={form.departments}
        other={form.otherDepartments}
        onTicked={(list) => set("departments", list)}
        onOther={(text) => set("otherDepartments", text)}
        error={departmentsError(problem)}
      />
      <div className="admin-actions">
        <button type="submit" disabled={busy}>
          {t("users.create")}
        </button>
        <button type="button" className="secondary" onClick={onCancel}>
          {t("buttons.cancel", { ns: "common" })}
        </button>
      </div>
    </form>
  );
}

function withoutPassword<T extends { password: string }>(form: T): Omit<T, "password"> {
  const { password: _, ...rest } = form;
  return rest;
}
