// The refund dialog (templates/refunds/refund_dialog.html): what Execute will do, said as it is typed.
// No inline scripts anywhere (the CSP forbids them); the preview of consequences is the server's
// (an htmx region); this only keeps the form's own words in step with the amount:
// - the type follows the amount (all that remains: Full refund; less: Partial); Account credits stays;
// - choosing Full refund fills in the whole remaining amount, still editable;
// - the suggested credits to remove follow the amount until the staff member edits the field;
// - the button says what will happen ("Execute refund of $12.50 to the card"), and while the
//   refund is on its way, "Refunding $12.50…".
"use strict";

(() => {
  const FORM = "#refund-form";

  // "12.50" → 1250 in minor units, with string arithmetic (no floating point); null if not an amount.
  function minorUnits(text, exponent) {
    const cleaned = text.trim().replaceAll(",", "");
    if (!/^\d+(\.\d*)?$/.test(cleaned)) return null;
    const [whole, fraction = ""] = cleaned.split(".");
    if (fraction.length > exponent) return null;
    return Number(whole + fraction.padEnd(exponent, "0"));
  }

  function decimalText(minor, exponent) {
    if (exponent === 0) return String(minor);
    const digits = String(minor).padStart(exponent + 1, "0");
    return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
  }

  function moneyText(minor, currency, exponent) {
    const format = new Intl.NumberFormat("en-US", {
      style: "currency",
      currency,
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
    });
    return format.format(minor / 10 ** exponent);
  }

  function numbers(form) {
    const data = form.dataset;
    return {
      remaining: Number(data.remaining),
      paymentAmount: Number(data.paymentAmount),
      creditsBought: Number(data.creditsBought),
      balance: Number(data.balance),
      exponent: Number(data.exponent),
      currency: data.currency,
    };
  }

  function creditsFor(n, minor) {
    if (n.paymentAmount <= 0 || n.creditsBought <= 0) return 0;
    return Math.floor((n.creditsBought * minor) / n.paymentAmount);
  }

  function radio(form, value) {
    return form.querySelector(`input[name="type"][value="${value}"]`);
  }

  function update(form, source) {
    const n = numbers(form);
    const amount = form.querySelector("#id_amount");
    const credits = form.querySelector("#id_credits_to_remove");
    const creditsField = form.querySelector("[data-refund-credits-field]");

    if (source?.name === "type" && source.value === "full") {
      amount.value = decimalText(Math.max(n.remaining, 0), n.exponent);
    } else if (source?.name === "type" && source.value === "partial" && minorUnits(amount.value, n.exponent) >= n.remaining) {
      amount.value = "";
      amount.focus();
    }
    let minor = minorUnits(amount.value, n.exponent);
    if (minor !== null && (minor <= 0 || minor > n.remaining)) minor = null;

    // The type follows the amount; Account credits is a choice of its own and stays.
    let type = form.querySelector('input[name="type"]:checked')?.value ?? "";
    if (type !== "credits" && minor !== null) {
      type = minor === n.remaining ? "full" : "partial";
      const follow = radio(form, type);
      if (follow) follow.checked = true;
    } else if (source === amount && amount.value.trim() === "" && (type === "full" || type === "partial")) {
      // No amount, no card refund: nothing stays chosen that the staff member did not choose.
      radio(form, type).checked = false;
      type = "";
    }

    if (creditsField) creditsField.hidden = type === "credits";
    const suggested = minor === null ? null : Math.max(0, Math.min(creditsFor(n, minor), n.balance));
    const suggestedText = form.querySelector("[data-refund-credits-suggested]");
    if (suggestedText) suggestedText.textContent = suggested === null ? "—" : suggested.toLocaleString("en-US");
    if (credits && !credits.dataset.edited) credits.value = suggested === null ? "" : String(suggested);

    let change = 0;
    if (minor !== null && type === "credits") {
      change = creditsFor(n, minor);
    } else if (minor !== null && credits) {
      const typed = credits.value.trim() === "" ? suggested : Number.parseInt(credits.value, 10);
      change = -Math.min(Number.isFinite(typed) ? Math.max(typed, 0) : 0, n.balance);
    }
    const after = form.querySelector("[data-refund-credits-after]");
    if (after) after.textContent = Math.max(0, n.balance + change).toLocaleString("en-US");

    const button = form.querySelector("#refund-submit");
    const label = button?.querySelector("[data-refund-action]");
    if (label) {
      if (minor === null) {
        label.textContent = "Execute refund";
        button.dataset.busyLabel = "Refunding…";
      } else {
        const money = moneyText(minor, n.currency, n.exponent);
        label.textContent =
          type === "credits"
            ? `Execute refund of ${money} as ${change.toLocaleString("en-US")} credits`
            : `Execute refund of ${money} to the card`;
        button.dataset.busyLabel = `Refunding ${money}…`;
      }
    }
  }

  document.addEventListener("input", (event) => {
    const form = event.target.closest?.(FORM);
    if (!form) return;
    if (event.target.id === "id_credits_to_remove") {
      event.target.dataset.edited = "1";
      // Kept through a form shown again with errors: what the staff member typed is not replaced.
      const marker = form.querySelector('[name="credits_edited"]');
      if (marker) marker.value = "1";
    }
    update(form, event.target);
  });
  // A click on a type, even one already chosen: Full refund fills in what remains again.
  document.addEventListener("click", (event) => {
    const form = event.target.closest?.(FORM);
    if (form && event.target instanceof HTMLInputElement && event.target.name === "type") update(form, event.target);
  });

  // A form shown again (opened, or with errors): its words from what it holds now, and focus on
  // the summary of what went wrong, whose links lead to each field.
  document.addEventListener("htmx:load", (event) => {
    const root = event.detail.elt;
    const form = root.matches?.(FORM) ? root : root.querySelector?.(FORM);
    if (!form) return;
    const credits = form.querySelector("#id_credits_to_remove");
    if (credits && form.querySelector('[name="credits_edited"]')?.value === "1") credits.dataset.edited = "1";
    update(form, null);
  });
  // Once per swap of the panel (the preview's own swaps settle too, and must not move focus).
  document.addEventListener("htmx:afterSettle", () => {
    const landing = document.querySelector("#refund-panel #refund-errors, #refund-panel .result h3");
    if (!landing || landing.dataset.focused) return;
    landing.dataset.focused = "1";
    landing.focus();
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("#refund-errors a[href^='#']");
    if (!link) return;
    const field = document.getElementById(link.getAttribute("href").slice(1));
    if (field) {
      event.preventDefault();
      field.focus();
    }
  });

  // While the refund is on its way: the button says so, the form is busy (htmx disables the button).
  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt;
    if (!(form instanceof HTMLFormElement) || !form.matches(FORM)) return;
    const button = form.querySelector("#refund-submit");
    const label = button?.querySelector("[data-refund-action]");
    if (label && button.dataset.busyLabel) label.textContent = button.dataset.busyLabel;
    form.setAttribute("aria-busy", "true");
  });
})();
