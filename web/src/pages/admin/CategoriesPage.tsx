import { useCallback, useEffect, useMemo, useState } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../../api/client";
import type { Paged } from "../../api/types";
import { Loading } from "../../components/Loading";
import { usePageTitle } from "../../components/PageTitle";
import { ProblemAlert } from "../../components/ProblemAlert";
import { formatNumber } from "../../i18n/format";
import "./admin.css";
import { CategoryEditor } from "./categories/CategoryEditor";
import { emptyForm, formFromCategory, type AdminCategory, type CategoryForm } from "./categories/logic";

type Editing = { form: CategoryForm; isNew: boolean } | null;

/** Admin: the category catalogue; create or edit one (attributes and canned responses included). */
export default function CategoriesPage() {
  const { t } = useTranslation(["admin", "common"]);
  usePageTitle(t("titles.categories", { ns: "common" }));
  const [items, setItems] = useState<AdminCategory[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [notice, setNotice] = useState("");

  const load = useCallback((signal?: AbortSignal) => {
    setError(null);
    api
      // Revalidated, never taken from the browser cache: the list is cacheable for a minute and the
      // access token survives a reload, so a cached copy would hide this admin's own recent edits.
      .get<Paged<AdminCategory>>("/v1/categories", { signal, cache: "no-cache" })
      .then((page) => setItems(page.items))
      .catch((e: unknown) => {
        if (!signal?.aborted) setError(e);
      });
  }, []);
  useEffect(() => {
    const controller = new AbortController();
    load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const departments = useMemo(
    () => [...new Set((items ?? []).map((c) => c.department))].sort(),
    [items],
  );

  function saved(spec: AdminCategory) {
    // The list is cached for a minute: show what the PUT answered.
    setItems((list) => {
      const rest = (list ?? []).filter((c) => c.code !== spec.code);
      return [...rest, spec].sort((a, b) => a.code.localeCompare(b.code));
    });
    setEditing(null);
    setNotice(t("categories.saved", { name: spec.name }));
  }

  return (
    <section className="admin-screen">
      <h1>{t("titles.categories", { ns: "common" })}</h1>
      <p role="status">{notice}</p>
      <ProblemAlert error={error} onRetry={() => load()} />
      {editing ? (
        <CategoryEditor
          key={editing.form.code || "new"}
          initial={editing.form}
          isNew={editing.isNew}
          departments={departments}
          onSaved={saved}
          onCancel={() => setEditing(null)}
        />
      ) : (
        <>
          <div className="admin-actions">
            <button
              type="button"
              onClick={() => {
                setNotice("");
                setEditing({ form: emptyForm(), isNew: true });
              }}
            >
              {t("categories.new")}
            </button>
          </div>
          {items === null && !error ? (
            <Loading />
          ) : (
            <div className="table-wrap">
              <table>
                <caption className="visually-hidden">{t("categories.caption")}</caption>
                <thead>
                  <tr>
                    <th scope="col">{t("categories.name")}</th>
                    <th scope="col">{t("categories.code")}</th>
                    <th scope="col">{t("categories.department")}</th>
                    <th scope="col">{t("categories.slaHours")}</th>
                    <th scope="col">{t("categories.attributes")}</th>
                    <th scope="col">{t("categories.canned")}</th>
                    <th scope="col">
                      <span className="visually-hidden">{t("actions")}</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {(items ?? []).map((c) => (
                    <tr key={c.code}>
                      <th scope="row">{c.name}</th>
                      <td className="code">{c.code}</td>
                      <td>{c.department}</td>
                      <td>{formatNumber(c.sla_hours)}</td>
                      <td>{formatNumber(c.attributes?.length ?? 0)}</td>
                      <td>{formatNumber(c.canned_responses?.length ?? 0)}</td>
                      <td>
                        <button
                          type="button"
                          className="secondary"
                          aria-label={t("categories.editNamed", { name: c.name })}
                          onClick={() => {
                            setNotice("");
                            setEditing({ form: formFromCategory(c), isNew: false });
                          }}
                        >
                          {t("buttons.edit", { ns: "common" })}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </section>
  );
}
