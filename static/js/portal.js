// The little JavaScript the portal has. No inline scripts anywhere: the CSP forbids them.
"use strict";

// "/" focuses the search box, as in most admin tools; not while typing in a field.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
  const search = document.getElementById("user-search");
  if (search) {
    event.preventDefault();
    search.focus();
    search.select();
  }
});

// A failed request (network down, server error) must not fail silently: say so in the toast region.
function portalToast(message) {
  const region = document.getElementById("toasts");
  if (!region) return;
  const toast = document.createElement("p");
  toast.className = "toast";
  toast.textContent = message;
  region.append(toast);
  setTimeout(() => toast.remove(), 8000);
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  portalToast(`The portal could not complete that request (HTTP ${status}). Reload the page and check before trying again.`);
});
document.addEventListener("htmx:sendError", () => {
  portalToast("The portal could not be reached. Check your connection and try again.");
});

// Credits editor: Escape puts back the saved balance and clears the error; Enter submits (native).
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.closest(".credits-editor") || !input.dataset.savedValue) return;
  input.value = input.dataset.savedValue;
  input.removeAttribute("aria-invalid");
  input.closest(".credits-editor").querySelectorAll(".field-error").forEach((error) => error.remove());
  input.select();
});
