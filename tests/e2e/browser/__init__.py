"""Browser end-to-end tests: the web app in Debian's Chromium (Playwright) through the real stack."""
