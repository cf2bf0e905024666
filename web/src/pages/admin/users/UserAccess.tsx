import { useEffect, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSubmitKey } from "../../../api/submitKey";
import { ProblemError } from "../../../api/problem";
import type { Role } from "../../../api/types";
import { FormField } from "../../../components/FormField";
import { ProblemAlert } from "../../../components/ProblemAlert";
import { ConfirmDialog } from "../shared/ConfirmDialog";
import { DepartmentsPicker } from "./DepartmentsPicker";
import { changeRequest, type AdminUserView, type ChangeUserRequest } from "./logic";

const ROLES: Role[] = ["citizen", "staff", "admin"];

export function departmentsError(problem: unknown): string | undefined {
  if (!(problem instanceof ProblemError)) return undefined;
  return problem.errors.find((f) => f.field === "departments" || f.field.startsWith("departments."))?.message;
}

/** One account's role, departments and access (PATCH /v1/admin/users/{id}). */
export function UserAccess({
  user,
  choices,
  onChanged,
  onClose,
}: {
  user: AdminUserView;
  choices: string[];
  onChanged: (u: AdminUserView, message: string) => void;
  onClose: () => void;
}) {
  const { t } = useTranslation(["admin", "common"]);
  const known = new Set(choices);
  const [role, setRole] = useState<Role>(user.role);
  const [ticked, setTicked] = useState(user.departments.filter((d) => known.has(d)));
  const [other, setOther] = useState(user.departments.filter((d) => !known.has(d)).join(", "));
  const keys = useSubmitKey();
  const [problem, setProblem] = useState<unknown>(null);
  const [toggleProblem, setToggleProblem] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [note, setNote] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  async function patch(body: ChangeUserRequest) {
    const path = `/v1/admin/users/${user.id}`;
    return keys.send<AdminUserView>("PATCH", path, { json: body });
  }

  async function save() {
    const body = changeRequest(user, { role, departments: ticked, otherDepartments: other });
    if (!body) {
      setNote(t("users.nothingChanged"));
      return;
    }
    setNote("");
    setBusy(true);
    try {
      const updated = await patch(body);
      setProblem(null);
      onChanged(updated, t("users.changed", { email: updated.email }));
    } catch (e) {
      setProblem(e);
    } finally {
      setBusy(false);
    }
  }

  async function toggle(disabled: boolean) {
    setBusy(true);
    try {
      const updated = await patch({ disabled });
      setToggleProblem(null);
      setConfirming(false);
      onChanged(updated, t(disabled ? "users.disabledDone" : "users.enabledDone", { email: updated.email }));
    } catch (e) {
      setToggleProblem(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="admin-panel" aria-labelledby={`access-${user.id}`}>
      <h2 id={`access-${user.id}`} tabIndex={-1} ref={heading}>{t("users.manageTitle", { email: user.email })}</h2>
      <ProblemAlert error={problem} fieldLabels={{ role: t("users.role") }} hideFields />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <FormField label={t("users.role")} name="role" error={problem}>
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`role.${r}`, { ns: "common" })}
              </option>
            ))}
          </select>
        </FormField>
        {role !== "citizen" ? (
          <DepartmentsPicker
            choices={choices}
            ticked={ticked}
            other={other}
            onTicked={setTicked}
            onOther={setOther}
            error={departmentsError(problem)}
          />
        ) : (
          <p className="hint">{t("users.citizenNoDepartments")}</p>
        )}
        <p role="status">{note}</p>
        <div className="admin-actions">
          <button type="submit" disabled={busy}>
            {t("users.saveAccess")}
          </button>
          {user.disabled ? (
            <button type="button" className="secondary" disabled={busy} onClick={() => void toggle(false)}>
              {t("users.enable")}
            </button>
          ) : (
            <button type="button" className="danger" disabled={busy} onClick={() => setConfirming(true)}>
              {t("users.disable")}
            </button>
          )}
          <button type="button" className="secondary" onClick={onClose}>
            {t("buttons.close", { ns: "common" })}
          </button>
        </div>
        {!confirming && <ProblemAlert error={toggleProblem} />}
      </form>
      <ConfirmDialog
        open={confirming}
        title={t("users.confirmDisableTitle", { email: user.email })}
        confirmLabel={t("users.disable")}
        onConfirm={() => void toggle(true)}
        onCancel={() => {
          setConfirming(false);
          setToggleProblem(null);
        }}
        busy={busy}
        error={toggleProblem}
      >
        <p>{t("users.confirmDisableBody")}</p>
      </ConfirmDialog>
    </section>
  );
}
