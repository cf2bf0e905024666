import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import "leaflet/dist/leaflet.css";
// Devanagari glyphs for Hindi where the device has none (fetched only when Devanagari text shows).
import "@fontsource/noto-sans-devanagari/devanagari-400.css";
import "@fontsource/noto-sans-devanagari/devanagari-700.css";
import "./styles.css";
import i18n from "./i18n";
import { SessionProvider } from "./auth/session";
import { createAppRouter } from "./routes";

document.documentElement.lang = i18n.language;
const router = createAppRouter();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <SessionProvider>
      <RouterProvider router={router} />
    </SessionProvider>
  </StrictMode>,
);
