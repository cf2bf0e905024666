import { act, fireEvent, render, screen } from "@testing-library/react";
import { renderHook } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { TimeoutError } from "ky";
import { ProblemError, toProblemError } from "../api/problem";
import { FormField } from "./FormField";
import { Loading } from "./Loading";
import { Pager, useCursorPager } from "./Pager";
import { ProblemAlert } from "./ProblemAlert";
import { StatusBadge } from "./StatusBadge";

const invalid = new ProblemError({
  status: 422,
  title: "Unprocessable Content",
  detail: "The report is not valid",
  errors: [{ field: "title", message: "Too short" }],
});

describe("ProblemAlert", () => {
  it("shows the detail and each field error in an alert", () => {
    render(<ProblemAlert error={invalid} fieldLabels={{ title: "Title" }} />);
    const alert = screen.getByRole("alert");
    expect(alert).toHaveTextContent("The report is not valid");
    expect(alert).toHaveTextContent("Title: Too short");
  });
  it("explains a network failure", () => {
    render(<ProblemAlert error={new ProblemError({ status: 0, title: "Network error" })} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Could not reach SnapFix");
  });
  it("shows the translated sentence, not the browser's English, for a network failure or a timeout", async () => {
    const { rerender } = render(
      <ProblemAlert error={new ProblemError({ status: 0, title: "Network error", detail: "Failed to fetch" })} />,
    );
    expect(screen.getByRole("alert")).toHaveTextContent("Could not reach SnapFix");
    expect(screen.getByRole("alert")).not.toHaveTextContent("Failed to fetch");
    const timeout = await toProblemError(new TimeoutError(new Request("http://localhost/v1/issues")));
    expect(timeout.detail).toBeUndefined();
    expect(timeout.clientMade).toBe(true);
    rerender(<ProblemAlert error={timeout} />);
    expect(screen.getByRole("alert")).toHaveTextContent("SnapFix took too long to answer");
    const network = await toProblemError(new TypeError("Failed to fetch"));
    expect(network.detail).toBeUndefined();
    rerender(<ProblemAlert error={network} />);
    expect(screen.getByRole("alert")).toHaveTextContent("Could not reach SnapFix");
  });
  it("explains a 503 without detail", () => {
    render(<ProblemAlert error={new ProblemError({ status: 503, title: "Service Unavailable" })} />);
    expect(screen.getByRole("alert")).toHaveTextContent("busy or down");
  });
  it("renders nothing without an error", () => {
    const { container } = render(<ProblemAlert error={null} />);
    expect(container).toBeEmptyDOMElement();
  });
});

describe("FormField", () => {
  it("labels the control and links its hint and its error", () => {
    render(
      <FormField label="Title" name="title" hint="A few words" error={invalid} required>
        <input />
      </FormField>,
    );
    const input = screen.getByLabelText(/Title/);
    expect(input).toBeRequired();
    expect(input).toHaveAttribute("aria-invalid", "true");
    expect(input).toHaveAccessibleDescription("A few words Too short");
  });
  it("is valid when the problem names another field", () => {
    render(
      <FormField label="Description" name="description" error={invalid}>
        <textarea />
      </FormField>,
    );
    expect(screen.getByLabelText("Description")).not.toHaveAttribute("aria-invalid");
  });
});

describe("StatusBadge", () => {
  it("names the status in words, with an icon hidden from screen readers", () => {
    render(<StatusBadge status="in_progress" />);
    expect(screen.getByText("In progress")).toBeInTheDocument();
    expect(document.querySelector("[aria-hidden=true]")?.textContent).toMatch(/◔/);
  });
});

describe("Loading", () => {
  it("is a polite status", () => {
    render(<Loading />);
    expect(screen.getByRole("status")).toHaveTextContent("Loading…");
  });
});

describe("Pager", () => {
  it("walks forward by cursor and back", () => {
    const { result } = renderHook(() => useCursorPager());
    expect(result.current.cursor).toBeUndefined();
    act(() => result.current.next("c2"));
    act(() => result.current.next("c3"));
    expect(result.current.cursor).toBe("c3");
    expect(result.current.pageNumber).toBe(3);
    act(() => result.current.previous());
    expect(result.current.cursor).toBe("c2");
    act(() => result.current.reset());
    expect(result.current.pageNumber).toBe(1);
  });
  it("disables Next at the end and Previous on the first page", () => {
    function Harness({ next }: { next: string | null }) {
      const pager = useCursorPager();
      return <Pager pager={pager} nextCursor={pager.pageNumber === 1 ? next : null} />;
    }
    render(<Harness next="abc" />);
    expect(screen.getByRole("button", { name: "Previous" })).toBeDisabled();
    fireEvent.click(screen.getByRole("button", { name: /Next/ }));
    expect(screen.getByText("Page 2")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: /Next/ })).toBeDisabled();
    expect(screen.getByRole("button", { name: /Previous/ })).toBeEnabled();
  });
});
