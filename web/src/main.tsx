import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router";
import "leaflet/dist/leaflet.css";
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
