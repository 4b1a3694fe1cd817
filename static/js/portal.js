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

// Row menus (the three dots, "Payment actions"): a button that shows a list of menu items.
function menuClose(menu, focusButton) {
  const button = menu.querySelector("[data-menu-button]");
  const list = menu.querySelector("[role=menu]");
  if (!list || list.hidden) return;
  list.hidden = true;
  button.setAttribute("aria-expanded", "false");
  if (focusButton) button.focus();
}
function menusCloseAll(except) {
  document.querySelectorAll("[data-menu]").forEach((menu) => {
    if (menu !== except) menuClose(menu, false);
  });
}
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-menu-button]");
  if (button) {
    const menu = button.closest("[data-menu]");
    const list = menu.querySelector("[role=menu]");
    menusCloseAll(menu);
    const opening = list.hidden;
    list.hidden = !opening;
    button.setAttribute("aria-expanded", String(opening));
    if (opening) list.querySelector("[role=menuitem]")?.focus();
    return;
  }
  if (!event.target.closest("[role=menu]")) menusCloseAll(null);
});
document.addEventListener("keydown", (event) => {
  const menu = event.target instanceof Element ? event.target.closest("[data-menu]") : null;
  if (!menu) return;
  const items = [...menu.querySelectorAll("[role=menuitem]")];
  const index = items.indexOf(document.activeElement);
  if (event.key === "Escape") {
    event.preventDefault();
    menuClose(menu, true);
  } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && items.length) {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    items[(index + step + items.length) % items.length].focus();
  } else if (event.key === "Tab" && index >= 0) {
    menuClose(menu, false);
  }
});

// The modal: a native <dialog> that HTMX fills; Escape closes it, focus goes back to its opener.
let dialogOpener = null;
document.addEventListener("htmx:beforeRequest", (event) => {
  const source = event.detail.elt;
  if (source instanceof Element && source.hasAttribute("data-opens-dialog")) {
    const menu = source.closest("[data-menu]");
    dialogOpener = menu ? menu.querySelector("[data-menu-button]") : source;
    if (menu) menuClose(menu, false);
  }
});
document.addEventListener("htmx:afterSwap", (event) => {
  const dialog = document.getElementById("modal");
  if (event.detail.target !== dialog) return;
  if (!dialog.open) dialog.showModal();
  const first = dialog.querySelector("[autofocus], input:not([type=hidden]):checked, input:not([type=hidden]), select, textarea, button");
  first?.focus();
});
document.addEventListener("htmx:afterSettle", (event) => {
  // A result replacing the form: move focus to its heading so it is read out.
  const heading = event.detail.target?.querySelector?.(".result h3");
  heading?.focus();
});
document.addEventListener("click", (event) => {
  const closer = event.target.closest("[data-close-dialog]");
  if (!closer) return;
  const dialog = closer.closest("dialog");
  if (dialog) {
    event.preventDefault();
    dialog.close();
  }
});
document.getElementById("modal")?.addEventListener("close", (event) => {
  event.target.replaceChildren();
  if (dialogOpener && document.contains(dialogOpener)) dialogOpener.focus();
  dialogOpener = null;
});

// Refund form: Full refund fixes the amount; Account credits moves no money, so no credits are removed;
// the suggested credits to remove follow the amount until the staff member edits them.
function refundFormUpdate(form, amountChanged) {
  const type = form.querySelector("[data-refund-type]:checked")?.value;
  const amount = form.querySelector("#id_amount");
  const credits = form.querySelector("#id_credits_to_remove");
  const creditsField = form.querySelector("[data-credits-field]");
  const exponent = Number(form.dataset.exponent);
  const remaining = Number(form.dataset.remaining);
  if (type === "full") {
    amount.value = (remaining / 10 ** exponent).toFixed(exponent);
    amount.readOnly = true;
  } else {
    amount.readOnly = false;
  }
  creditsField.hidden = type === "credits";
  const minor = Math.round(Number.parseFloat(amount.value) * 10 ** exponent);
  if (amountChanged && !credits.dataset.edited && Number.isFinite(minor)) {
    const share = Math.floor((Number(form.dataset.creditsBought) * minor) / Number(form.dataset.paymentAmount));
    credits.value = String(Math.max(0, Math.min(share, Number(form.dataset.balance))));
  }
  const removed = type === "credits" ? 0 : Math.max(0, Number.parseInt(credits.value || "0", 10) || 0);
  const after = Math.max(0, Number(form.dataset.balance) - removed);
  form.querySelector("[data-credits-after]").textContent = after.toLocaleString("en-US");
}
document.addEventListener("input", (event) => {
  const form = event.target.closest?.(".refund-form");
  if (!form) return;
  if (event.target.id === "id_credits_to_remove") {
    event.target.dataset.edited = "1";
    // Chosen by the staff member now: the server must take it as typed, not work it out again.
    const suggested = form.querySelector('[name="credits_suggested"]');
    if (suggested) suggested.value = "";
  }
  refundFormUpdate(form, event.target.id === "id_amount" || event.target.matches("[data-refund-type]"));
});
document.addEventListener("htmx:load", (event) => {
  const form = event.detail.elt.querySelector?.(".refund-form") ?? (event.detail.elt.matches?.(".refund-form") ? event.detail.elt : null);
  if (form) refundFormUpdate(form, false);
});
