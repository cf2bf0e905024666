import { useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { CategorySpec, Paged } from "../../api/types";
import { useSession } from "../../auth/session";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { Pager, useCursorPager } from "../../components/Pager";
import { ProblemAlert } from "../../components/ProblemAlert";
import "./admin.css";
import { CreateUser } from "./users/CreateUser";
import { departmentChoices, listParams, type AdminUserView, type UserPage } from "./users/logic";
import { UserAccess } from "./users/UserAccess";

/** Admin: accounts (role filter, e-mail prefix search, cursor paging), new staff, access changes. */
export default function UsersPage() {
  const { t } = useTranslation(["admin", "common"]);
  usePageTitle(t("titles.users", { ns: "common" }));
  const { user: me } = useSession();
  const pager = useCursorPager();
  const [draft, setDraft] = useState({ role: "", q: "" });
  const [filters, setFilters] = useState({ role: "", q: "" });
  const [page, setPage] = useState<UserPage | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [catalogue, setCatalogue] = useState<string[]>([]);
  const [creating, setCreating] = useState(false);
  const [managing, setManaging] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    api
      .get<Paged<CategorySpec>>("/v1/categories", { signal: controller.signal })
      .then((p) => setCatalogue(p.items.map((c) => c.department)))
      .catch(() => undefined); // free entry still works
    return () => controller.abort();
  }, []);

  useEffect(() => {
    const controller = new AbortController();
    setError(null);
    api
      .get<UserPage>("/v1/admin/users", { searchParams: listParams(filters, pager.cursor), signal: controller.signal })
      .then(setPage)
      .catch((e: unknown) => {
        if (!controller.signal.aborted) setError(e);
      });
    return () => controller.abort();
  }, [filters, pager.cursor, reload]);

  const choices = useMemo(
    () => departmentChoices(catalogue, (page?.items ?? []).flatMap((u) => u.departments)),
    [catalogue, page],
  );
  const managed = page?.items.find((u) => u.id === managing);

  function replace(u: AdminUserView) {
    setPage((p) => (p ? { ...p, items: p.items.map((x) => (x.id === u.id ? u : x)) } : p));
  }

  return (
    <section className="admin-screen">
      <h1>{t("titles.users", { ns: "common" })}</h1>
      <p role="status">{notice}</p>
      {creating ? (
        <CreateUser
          choices={choices}
          onCancel={() => setCreating(false)}
          onCreated={(u) => {
            setCreating(false);
            setNotice(t("users.created", { email: u.email }));
            pager.reset();
            setReload((n) => n + 1);
          }}
        />
      ) : (
        <div className="admin-actions">
          <button type="button" onClick={() => setCreating(true)}>
            {t("users.new")}
          </button>
        </div>
      )}

      <form
        className="admin-filters"
        role="search"
        aria-label={t("users.filters")}
        onSubmit={(e) => {
          e.preventDefault();
          pager.reset();
          setFilters({ ...draft });
        }}
      >
        <div className="field">
          <label htmlFor="users-role">{t("users.role")}</label>
          <select id="users-role" value={draft.role} onChange={(e) => setDraft((d) => ({ ...d, role: e.target.value }))}>
            <option value="">{t("users.anyRole")}</option>
            <option value="citizen">{t("role.citizen", { ns: "common" })}</option>
            <option value="staff">{t("role.staff", { ns: "common" })}</option>
            <option value="admin">{t("role.admin", { ns: "common" })}</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="users-q">{t("users.emailStarts")}</label>
          <input
            id="users-q"
            type="search"
            value={draft.q}
            maxLength={320}
            onChange={(e) => setDraft((d) => ({ ...d, q: e.target.value }))}
          />
        </div>
        <div className="field">
          <button type="submit">{t("buttons.search", { ns: "common" })}</button>
        </div>
      </form>

      <ProblemAlert error={error} onRetry={() => setReload((n) => n + 1)} />
      {managed && (
        <UserAccess
          key={managed.id}
          user={managed}
          choices={choices}
          onClose={() => setManaging(null)}
          onChanged={(u, message) => {
            replace(u);
            setNotice(message);
          }}
        />
      )}
      {page === null && !error ? (
        <Loading />
      ) : page && page.items.length === 0 ? (
        <p>{t("users.none")}</p>
      ) : page ? (
        <>
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">{t("users.caption")}</caption>
              <thead>
                <tr>
                  <th scope="col">{t("users.email")}</th>
                  <th scope="col">{t("users.name")}</th>
                  <th scope="col">{t("users.role")}</th>
                  <th scope="col">{t("users.departments")}</th>
                  <th scope="col">{t("users.verified")}</th>
                  <th scope="col">{t("users.access")}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t("actions")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((u) => (
                  <tr key={u.id}>
                    <th scope="row" className="code">
                      {u.email}
                      {me?.id === u.id && <> ({t("users.you")})</>}
                    </th>
                    <td>{u.display_name}</td>
                    <td>{t(`role.${u.role}`, { ns: "common" })}</td>
                    <td>{u.departments.length ? u.departments.join(", ") : "—"}</td>
                    <td>{u.email_verified ? t("yes") : t("no")}</td>
                    <td>
                      {u.disabled ? (
                        <span className="marker marker-off">
                          <span aria-hidden="true">⛔ </span>
                          {t("users.disabledMarker")}
                        </span>
                      ) : (
                        <span className="marker marker-on">{t("users.activeMarker")}</span>
                      )}
                    </td>
                    <td>
                      <button
                        type="button"
                        className="secondary"
                        aria-label={t("users.manageNamed", { email: u.email })}
                        aria-expanded={managing === u.id}
                        onClick={() => setManaging((m) => (m === u.id ? null : u.id))}
                      >
                        {t("users.manage")}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager pager={pager} nextCursor={page.next_cursor} label={t("users.paging")} />
        </>
      ) : null}
    </section>
  );
}
