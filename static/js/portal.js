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

// What a screen reader should hear after a swap that moved nothing it would read by itself.
function portalAnnounce(text) {
  const region = document.getElementById("announcer");
  if (!region || !text) return;
  region.textContent = "";
  // A change of text, not the same text twice: set it on the next frame so it is read again.
  requestAnimationFrame(() => {
    region.textContent = text.replace(/\s+/g, " ").trim();
  });
}

// Tables: each cell carries its column's header as data-label, which the stylesheet shows beside
// the value when a narrow screen stacks the rows ("Amount: $50.00").
function tablesLabel(root) {
  const inside = root.closest?.("table"); // a row or a body swapped into a table
  const tables = inside ? [inside] : [...(root.querySelectorAll?.("table") ?? [])];
  for (const table of tables) {
    const headers = [...table.querySelectorAll("thead th")].map((th) => th.textContent.replace(/\s+/g, " ").trim());
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.cells].forEach((cell, index) => {
        if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", headers[index] ?? "");
      });
    }
  }
}
tablesLabel(document);
document.addEventListener("htmx:load", (event) => tablesLabel(event.detail.elt));

// "Label: value; label: value" of a table row, read out after it was refreshed.
function rowSummary(row) {
  if (!row) return "";
  return [...row.cells]
    .map((cell) => {
      const value = (cell.innerText ?? cell.textContent).replace(/\s+/g, " ").trim();
      const label = cell.dataset.label;
      return value && label ? `${label}: ${value}` : value;
    })
    .filter(Boolean)
    .join("; ");
}

// The header on a phone: the sections fold behind a Menu button.
const topbar = document.getElementById("topbar");
if (topbar?.querySelector("[data-nav-toggle]")) topbar.classList.add("is-collapsible");
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-nav-toggle]");
  if (!toggle) return;
  const open = !topbar.classList.contains("is-open");
  topbar.classList.toggle("is-open", open);
  toggle.setAttribute("aria-expanded", String(open));
  if (open) topbar.querySelector(".topbar-menu a, .topbar-menu button")?.focus();
});

// An error summary's links move focus to the field they name (a plain #link only scrolls).
document.addEventListener("click", (event) => {
  const link = event.target.closest(".error-summary a[href^='#']");
  if (!link) return;
  const field = document.getElementById(link.getAttribute("href").slice(1));
  if (field) {
    event.preventDefault();
    field.focus();
  }
});

// Row menus (the three dots, "Payment actions: …"): a menu button (WAI-ARIA menu button pattern).
// The list is fixed on the screen beside its button, so a table's scroll box never clips it.
function menuPlace(button, list) {
  const gap = 4;
  const margin = 8;
  const rect = button.getBoundingClientRect();
  const height = list.offsetHeight;
  const width = list.offsetWidth;
  let top = rect.bottom + gap;
  if (top + height > window.innerHeight - margin && rect.top - gap - height >= margin) top = rect.top - gap - height;
  const left = Math.min(Math.max(margin, rect.right - width), window.innerWidth - width - margin);
  list.style.top = `${Math.max(margin, top)}px`;
  list.style.left = `${Math.max(margin, left)}px`;
}
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
function menuOpen(menu, focusLast) {
  const button = menu.querySelector("[data-menu-button]");
  const list = menu.querySelector("[role=menu]");
  menusCloseAll(menu);
  list.hidden = false;
  button.setAttribute("aria-expanded", "true");
  menuPlace(button, list);
  const items = list.querySelectorAll("[role=menuitem]");
  (focusLast ? items[items.length - 1] : items[0])?.focus();
}
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-menu-button]");
  if (button) {
    const menu = button.closest("[data-menu]");
    if (menu.querySelector("[role=menu]").hidden) menuOpen(menu, false);
    else menuClose(menu, true);
    return;
  }
  if (!event.target.closest("[role=menu]")) menusCloseAll(null);
});
document.addEventListener("keydown", (event) => {
  const menu = event.target instanceof Element ? event.target.closest("[data-menu]") : null;
  if (!menu) return;
  const items = [...menu.querySelectorAll("[role=menuitem]")];
  const index = items.indexOf(document.activeElement);
  if (event.target.matches("[data-menu-button]") && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    event.preventDefault();
    menuOpen(menu, event.key === "ArrowUp");
  } else if (event.key === "Escape") {
    event.preventDefault();
    menuClose(menu, true);
  } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && items.length) {
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    items[(index + step + items.length) % items.length].focus();
  } else if ((event.key === "Home" || event.key === "End") && index >= 0) {
    event.preventDefault();
    items[event.key === "Home" ? 0 : items.length - 1].focus();
  } else if (event.key === "Tab" && index >= 0) {
    menuClose(menu, false);
  }
});
// A fixed menu would drift from its button: it follows it when the page scrolls or resizes.
function menusPlace() {
  document.querySelectorAll("[data-menu] [role=menu]:not([hidden])").forEach((list) => {
    menuPlace(list.closest("[data-menu]").querySelector("[data-menu-button]"), list);
  });
}
document.addEventListener("scroll", menusPlace, { capture: true, passive: true });
window.addEventListener("resize", menusPlace);

// Busy: while a request is out, the region it fills is aria-busy and the button that sent it shows
// a spinner and what it is doing; both are put back when the answer came without replacing them.
function busyLabel(form, button) {
  if (button.dataset.busyLabel) return button.dataset.busyLabel;
  if (form.matches(".refund-form")) {
    const shown = button.textContent.match(/[$€£¥]\s?[\d.,]+|[\d.,]+\s?[A-Z]{3}\b/);
    if (shown) return `Refunding ${shown[0]}…`;
    const amount = Number.parseFloat(form.querySelector("[name=amount]")?.value ?? "");
    const currency = form.querySelector("label[for=id_amount]")?.textContent.match(/\(([A-Z]{3})\)/)?.[1];
    if (Number.isFinite(amount) && currency) {
      try {
        return `Refunding ${new Intl.NumberFormat("en-US", { style: "currency", currency }).format(amount)}…`;
      } catch {
        // An unknown currency code: say it without the amount.
      }
    }
    return "Refunding…";
  }
  return "";
}
function busyStart(source, target) {
  if (target instanceof Element) target.setAttribute("aria-busy", "true");
  if (!(source instanceof HTMLFormElement)) return;
  const button = source.querySelector("button[type=submit]");
  if (!button || button.classList.contains("is-busy")) return;
  button.classList.add("is-busy");
  const label = busyLabel(source, button);
  if (label && !button.classList.contains("icon-button")) {
    button.dataset.idleHtml = button.innerHTML;
    const spinner = document.createElement("span");
    spinner.className = "spinner";
    spinner.setAttribute("aria-hidden", "true");
    button.replaceChildren(spinner, document.createTextNode(` ${label}`));
  }
}
function busyEnd(source, target) {
  if (target instanceof Element && target.isConnected) target.removeAttribute("aria-busy");
  if (!(source instanceof HTMLFormElement) || !source.isConnected) return;
  const button = source.querySelector("button[type=submit].is-busy");
  if (!button) return;
  button.classList.remove("is-busy");
  if (button.dataset.idleHtml !== undefined) {
    button.innerHTML = button.dataset.idleHtml;
    delete button.dataset.idleHtml;
  }
}
document.addEventListener("htmx:beforeRequest", (event) => busyStart(event.detail.elt, event.detail.target));
document.addEventListener("htmx:afterRequest", (event) => busyEnd(event.detail.elt, event.detail.target));

// The modal: a native <dialog> that HTMX fills; Escape closes it, focus goes back to its opener.
// After a refund the payment's row is refreshed (a new button): focus goes to the new button and
// the refreshed row is read out, once both the dialog is closed and the row is refreshed.
const dialogState = { opener: null, openerId: "", result: false, refreshed: false, waiting: false };
function dialogFocusRow() {
  const button = document.getElementById(dialogState.openerId);
  dialogState.waiting = false;
  dialogState.result = false;
  if (!button) return;
  button.focus();
  portalAnnounce(`Updated: ${rowSummary(button.closest("tr"))}`);
}
document.addEventListener("htmx:beforeRequest", (event) => {
  const source = event.detail.elt;
  if (source instanceof Element && source.hasAttribute("data-opens-dialog")) {
    const menu = source.closest("[data-menu]");
    const opener = menu ? menu.querySelector("[data-menu-button]") : source;
    Object.assign(dialogState, { opener, openerId: opener.id, result: false, refreshed: false, waiting: false });
    if (menu) menuClose(menu, true);
    opener.classList.add("is-busy");
    opener.setAttribute("aria-busy", "true");
  }
});
document.addEventListener("htmx:afterRequest", (event) => {
  const source = event.detail.elt;
  if (source instanceof Element && source.hasAttribute("data-opens-dialog") && dialogState.opener) {
    dialogState.opener.classList.remove("is-busy");
    dialogState.opener.removeAttribute("aria-busy");
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
  const target = event.detail.target;
  const dialog = document.getElementById("modal");
  // A result replacing the form: move focus to its heading and read it out (once).
  const heading = dialog?.open ? dialog.querySelector(".result h3:not([data-announced])") : null;
  if (heading) {
    heading.dataset.announced = "";
    heading.focus();
    portalAnnounce(heading.closest(".result").textContent);
    Object.assign(dialogState, { result: true, refreshed: false });
  }
  if (target?.id === "past-payments" && dialogState.result) {
    dialogState.refreshed = true;
    if (dialogState.waiting) dialogFocusRow();
  }
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
  const opener = dialogState.opener;
  if (opener?.isConnected) opener.focus();
  else document.getElementById(dialogState.openerId)?.focus();
  if (dialogState.result) {
    if (dialogState.refreshed) dialogFocusRow();
    else dialogState.waiting = true;
  }
  dialogState.opener = null;
});

// A profile tab swapped in: focus moves to its panel (named for the tab), as after a page load the
// next Tab goes into it, not back to the top of the page.
document.addEventListener("htmx:afterSettle", (event) => {
  const source = event.detail.requestConfig?.elt;
  if (!(source instanceof Element) || !source.closest(".tabs")) return;
  const panel = document.querySelector("#profile-tabs .tab-panel");
  if (!panel) return;
  const current = document.querySelector('#profile-tabs .tabs [aria-current="page"]');
  panel.setAttribute("tabindex", "-1");
  panel.setAttribute("role", "region");
  panel.setAttribute("aria-label", current ? current.textContent.trim() : "Profile section");
  panel.focus();
});

// The credits editor answered: focus returns to the field, and the result (saved, waiting for
// approval, or what is wrong) is read out.
document.addEventListener("htmx:afterSettle", (event) => {
  const source = event.detail.requestConfig?.elt;
  if (!(source instanceof Element) || !source.matches(".credits-editor")) return;
  const field = document.getElementById("id_credits");
  field?.focus();
  const said = document.querySelector("#payment-info .saved, #payment-info .error-summary");
  if (said) portalAnnounce(said.textContent);
});

// A row that replaced itself (a decision on Approvals): the button pressed is gone, so focus goes
// to the new row, and what it says now is read out.
document.addEventListener("htmx:afterSettle", (event) => {
  const target = event.detail.target;
  const source = event.detail.requestConfig?.elt;
  if (!(target instanceof HTMLTableRowElement) || !target.id || !(source instanceof Element) || source.isConnected) return;
  const row = document.getElementById(target.id);
  if (!row || row === target) return;
  row.setAttribute("tabindex", "-1");
  row.focus();
  portalAnnounce(rowSummary(row));
});

// The search answered: the box says whether what was typed is wrong, and where it says so.
document.addEventListener("htmx:afterSettle", (event) => {
  if (event.detail.target?.id !== "user-results") return;
  const search = document.getElementById("user-search");
  const error = document.getElementById("search-error");
  if (!search) return;
  if (error) {
    search.setAttribute("aria-invalid", "true");
    search.setAttribute("aria-describedby", "search-error search-hint");
  } else {
    search.removeAttribute("aria-invalid");
    search.setAttribute("aria-describedby", "search-hint");
  }
});
