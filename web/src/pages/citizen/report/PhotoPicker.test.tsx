import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { PhotoPicker, photosBusy, usableMediaIds, type Photo } from "./PhotoPicker";

function Harness() {
  const [photos, setPhotos] = useState<Photo[]>([]);
  return <PhotoPicker photos={photos} onChange={setPhotos} />;
}

afterEach(() => vi.unstubAllGlobals());

const base: Omit<Photo, "key" | "phase"> = { name: "p.jpg", preview: null, loaded: 0, total: 10 };

describe("PhotoPicker", () => {
  it("shows the API's problem detail when photos are refused (an unverified e-mail address)", async () => {
    const detail = "Verify your e-mail address before uploading photos.";
    vi.stubGlobal(
      "fetch",
      vi.fn(async () => new Response(JSON.stringify({ status: 403, title: "Forbidden", detail }), { status: 403, headers: { "content-type": "application/problem+json" } })),
    );
    render(<Harness />);
    const file = new File([new Uint8Array([0xff, 0xd8, 0xff, 0xe0])], "p.jpg", { type: "image/jpeg" });
    fireEvent.change(screen.getByLabelText("Add photos"), { target: { files: [file] } });
    expect(await screen.findByRole("alert")).toHaveTextContent(detail);
    expect(screen.queryByRole("listitem")).toBeNull(); // the refused photo is not kept
  });

  it("refuses a file that is not a photo without asking the server", () => {
    const fetch = vi.fn();
    vi.stubGlobal("fetch", fetch);
    render(<Harness />);
    const file = new File(["GIF89a"], "a.gif", { type: "image/gif" });
    fireEvent.change(screen.getByLabelText("Add photos"), { target: { files: [file] } });
    expect(screen.getByRole("listitem")).toHaveTextContent("Upload failed: not a JPEG, PNG, WebP or HEIC photo");
    expect(fetch).not.toHaveBeenCalled();
  });

  it("names only uploaded, unrefused photos in the report, and waits for uploads", () => {
    const photos: Photo[] = [
      { ...base, key: "1", phase: "ready", mediaId: "m1" },
      { ...base, key: "2", phase: "processing", mediaId: "m2" },
      { ...base, key: "3", phase: "rejected", mediaId: "m3" },
      { ...base, key: "4", phase: "failed" },
    ];
    expect(usableMediaIds(photos)).toEqual(["m1", "m2"]);
    expect(photosBusy(photos)).toBe(false);
    expect(photosBusy([...photos, { ...base, key: "5", phase: "uploading", mediaId: "m5" }])).toBe(true);
  });
});
