// kubegate console: dialogs, the user menu, copy buttons and calls to the JSON
// API. Strings come from the page (data-msg-*), so they are translated with it.
"use strict";

(function () {
  const msg = (name) => document.body.dataset["msg" + name.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())] || name;
  const fmt = (s, ...args) => { let i = 0; return s.replace(/%[sd]/g, () => String(args[i++])); };
  const $ = (sel) => document.querySelector(sel);

  function csrfToken() {
    const m = document.cookie.match(/(?:^|;\s*)kubegate_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  // call sends a JSON request to the gateway's API with the session cookie and
  // the CSRF header, and returns the status, the body and Retry-After.
  async function call(method, url, body) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrfToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await res.json(); } catch (_) { /* 204 */ }
    return { ok: res.ok, status: res.status, data, retryAfter: res.headers.get("Retry-After") };
  }

  // explain turns a failed call into the sentence to show.
  function explain(r) {
    if (r.status === 429 && r.retryAfter) return fmt(msg("ratelimit"), r.retryAfter);
    const m = r.data && r.data.message;
    return m || fmt(msg("generic"), r.status);
  }

  // busy disables a form's submit button while its call is in flight, so a
  // double click cannot, say, create two keys and lose the first secret.
  async function busy(form, work) {
    const b = form.querySelector("[type=submit]");
    if (b.disabled) return;
    b.disabled = true;
    try { await work(); } finally { b.disabled = false; }
  }

  function showError(el, text) {
    el.textContent = text;
    el.hidden = !text;
  }

  // ---- user menu: a disclosure menu that works with the keyboard ----
  const menuButton = $("#user-menu-button");
  const menu = $("#user-menu");
  if (menuButton && menu) {
    const items = () => Array.from(menu.querySelectorAll("[role=menuitem]"));
    const open = (focusFirst) => {
      menu.hidden = false;
      menuButton.setAttribute("aria-expanded", "true");
      if (focusFirst) items()[0].focus();
    };
    const close = (refocus) => {
      menu.hidden = true;
      menuButton.setAttribute("aria-expanded", "false");
      if (refocus) menuButton.focus();
    };
    menuButton.addEventListener("click", (e) => {
      if (menu.hidden) open(e.detail === 0); else close(false); // detail 0: Enter or Space
    });
    menuButton.addEventListener("keydown", (e) => {
      if (e.key === "ArrowDown") { e.preventDefault(); open(true); }
      else if (e.key === "Escape" && !menu.hidden) { e.preventDefault(); close(false); }
    });
    // Focus leaving the menu (Tab, Shift+Tab, a click elsewhere) closes it.
    menuButton.parentElement.addEventListener("focusout", (e) => {
      if (!menu.hidden && e.relatedTarget && !menuButton.parentElement.contains(e.relatedTarget)) close(false);
    });
    menu.addEventListener("keydown", (e) => {
      const list = items();
      const i = list.indexOf(document.activeElement);
      if (e.key === "Escape") { e.preventDefault(); close(true); }
      else if (e.key === "ArrowDown") { e.preventDefault(); list[(i + 1) % list.length].focus(); }
      else if (e.key === "ArrowUp") { e.preventDefault(); list[(i - 1 + list.length) % list.length].focus(); }
      else if (e.key === "Home") { e.preventDefault(); list[0].focus(); }
      else if (e.key === "End") { e.preventDefault(); list[list.length - 1].focus(); }
    });
    document.addEventListener("click", (e) => {
      if (!menu.hidden && !menu.contains(e.target) && !menuButton.contains(e.target)) close(false);
    });
  }

  document.addEventListener("click", async (e) => {
    const t = e.target.closest("button");
    if (!t) return;
    if (t.dataset.action === "logout") {
      const r = await call("POST", "/api/v1/cube/logout");
      if (r.ok || r.status === 401) location.assign("/login"); else showError($("#page-error"), explain(r));
    } else if (t.dataset.copy !== undefined) {
      copy(t, document.getElementById(t.dataset.copy).textContent);
    } else if (t.dataset.close !== undefined) {
      t.closest("dialog").close();
    } else if (t.dataset.action === "set-status") {
      const r = await call("PATCH", "/api/v1/cube/key?accessKey=" + encodeURIComponent(t.dataset.ak), { status: t.dataset.status });
      if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
    } else if (t.dataset.action === "delete-cluster") {
      confirmThen(fmt(msg("confirm-cluster"), t.dataset.cluster), async () => {
        const r = await call("DELETE", "/api/v1/cube/clusters/" + encodeURIComponent(t.dataset.cluster));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    } else if (t.dataset.action === "patch-user") {
      const r = await call("PATCH", userURL(t.dataset.user), { [t.dataset.field]: t.dataset.value === "true" });
      if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
    } else if (t.dataset.action === "delete-user") {
      confirmThen(fmt(msg("confirm-user"), t.dataset.user), async () => {
        const r = await call("DELETE", userURL(t.dataset.user));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    } else if (t.dataset.action === "reset-password") {
      const d = $("#reset-dialog");
      const form = $("#reset-form");
      form.reset();
      form.dataset.user = t.dataset.user;
      $("#reset-title").textContent = t.dataset.title;
      showError($("#reset-error"), "");
      d.showModal();
    } else if (t.dataset.action === "delete-token") {
      confirmThen(fmt(msg("confirm-token"), t.dataset.name), async () => {
        const r = await call("DELETE", "/apis/ghippo.io/v1alpha1/current-user/accesstokens/" + encodeURIComponent(t.dataset.token));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    } else if (t.dataset.action === "delete-team") {
      confirmThen(fmt(msg("confirm-team"), t.dataset.team), async () => {
        const r = await call("DELETE", teamURL(t.dataset.team));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    } else if (t.dataset.action === "remove-member") {
      confirmThen(fmt(msg("confirm-member"), t.dataset.user, t.dataset.team), async () => {
        const r = await call("DELETE", teamURL(t.dataset.team) + "/members/" + encodeURIComponent(t.dataset.user));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    } else if (t.dataset.action === "add-member") {
      const form = $("#member-form");
      form.reset();
      form.dataset.team = t.dataset.team;
      $("#member-title").textContent = t.dataset.title;
      showError($("#member-error"), "");
      $("#member-dialog").showModal();
    } else if (t.dataset.action === "delete-grant") {
      confirmThen(fmt(msg("confirm-grant"), t.dataset.subject), async () => {
        const r = await call("DELETE", "/api/v1/cube/grants/" + encodeURIComponent(t.dataset.grant));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    } else if (t.dataset.action === "delete") {
      confirmThen(fmt(msg("confirm-delete"), t.dataset.ak), async () => {
        const r = await call("DELETE", "/api/v1/cube/key?accessKey=" + encodeURIComponent(t.dataset.ak));
        if (r.ok) location.reload(); else showError($("#page-error"), explain(r));
      });
    }
  });

  async function copy(button, text) {
    try {
      await navigator.clipboard.writeText(text.trim());
      button.textContent = msg("copied");
      setTimeout(() => { button.textContent = msg("copy"); }, 1500);
    } catch (_) {
      // No clipboard (an insecure origin): select the text for Ctrl+C.
      const range = document.createRange();
      range.selectNodeContents(document.getElementById(button.dataset.copy));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
    }
  }

  function confirmThen(text, action) {
    const d = $("#confirm-dialog");
    $("#confirm-text").textContent = text;
    const ok = $("#confirm-ok");
    const onOk = async () => { ok.removeEventListener("click", onOk); d.close(); await action(); };
    d.addEventListener("close", () => ok.removeEventListener("click", onOk), { once: true });
    ok.addEventListener("click", onOk);
    d.showModal();
  }

  // ---- login ----
  const loginForm = $("#login-form");
  if (loginForm) {
    loginForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(loginForm, async () => {
        const r = await call("POST", "/api/v1/cube/login", { name: loginForm.name.value, password: loginForm.password.value });
        if (!r.ok) { showError($("#login-error"), explain(r)); loginForm.password.select(); return; }
        location.assign(loginForm.dataset.next || "/keys");
      });
    });
  }

  // ---- password ----
  const pwForm = $("#password-form");
  if (pwForm) {
    pwForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(pwForm, async () => {
        const r = await call("POST", "/api/v1/cube/user/password", { oldPassword: pwForm.oldPassword.value, newPassword: pwForm.newPassword.value });
        showError($("#password-error"), r.ok ? "" : explain(r));
        $("#password-done").hidden = !r.ok;
        if (r.ok) pwForm.reset();
      });
    });
  }

  // ---- settings: the credential lifetime policy ----
  const policyForm = $("#policy-form");
  if (policyForm) {
    const seconds = (days) => Math.round(parseFloat(days) * 24 * 3600) + "s";
    policyForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(policyForm, async () => {
        const r = await call("PUT", "/api/v1/cube/settings/credential-policy", {
          keyMaxLifetime: seconds(policyForm.keyDays.value || "0"), keyExpiryRequired: policyForm.keyRequired.checked,
          tokenMaxLifetime: seconds(policyForm.tokenDays.value || "0"),
        });
        showError($("#policy-error"), r.ok ? "" : explain(r));
        $("#policy-done").hidden = !r.ok;
      });
    });
  }

  // addDialog wires an "Add" button to its dialog: #add-NAME opens
  // #new-NAME-dialog with #new-NAME-form cleared; submitting calls create, once
  // at a time, and shows in #new-NAME-error why a call failed.
  function addDialog(name, create) {
    const button = $("#add-" + name);
    if (!button) return;
    const dialog = $("#new-" + name + "-dialog");
    const form = $("#new-" + name + "-form");
    const error = $("#new-" + name + "-error");
    button.addEventListener("click", () => { form.reset(); showError(error, ""); dialog.showModal(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(form, async () => {
        const r = await create(form);
        if (!r.ok) { showError(error, explain(r)); return; }
        dialog.close();
        if (r.show) r.show(); else location.reload();
      });
    });
  }

  // showOnce opens the dialog that shows a new secret, once: closing it (Close or
  // Escape) reloads the page, which never holds the secret again.
  function showOnce(dialogSel, closeSel) {
    const created = $(dialogSel);
    created.addEventListener("close", () => location.reload(), { once: true });
    created.showModal();
    $(closeSel).focus();
  }

  // ---- access keys ----
  addDialog("key", async (form) => {
    const body = { description: form.description.value, scope: scopeOf(form) };
    if (form.expiresAt.value) body.expiresAt = isoTime(form.expiresAt.value);
    const r = await call("POST", "/api/v1/cube/key/create", body);
    r.show = () => {
      $("#created-ak").textContent = r.data.accessKey;
      $("#created-sk").textContent = r.data.secretKey;
      showOnce("#created-dialog", "#created-close");
    };
    return r;
  });

  const userURL = (name) => "/api/v1/cube/users/" + encodeURIComponent(name);

  // ---- users ----
  addDialog("user", (form) => call("POST", "/api/v1/cube/users", { name: form.name.value.trim(), password: form.password.value, email: form.email.value.trim() }));
  const reset = $("#reset-form");
  if (reset) {
    reset.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(reset, async () => {
        const r = await call("PATCH", userURL(reset.dataset.user), { password: reset.password.value });
        if (!r.ok) { showError($("#reset-error"), explain(r)); return; }
        $("#reset-dialog").close();
      });
    });
  }

  // ---- clusters ----
  addDialog("cluster", (form) => call("POST", "/api/v1/cube/clusters", {
    name: form.name.value.trim(), kubeconfig: form.kubeconfig.value, context: form.context.value.trim(), description: form.description.value,
  }));

  // ---- personal access tokens ----
  addDialog("token", async (form) => {
    const body = { name: form.name.value.trim(), scope: scopeOf(form) };
    if (form.expiresAt.value) body.expiredAt = isoTime(form.expiresAt.value);
    const r = await call("POST", "/apis/ghippo.io/v1alpha1/current-user/accesstoken", body);
    r.show = () => {
      $("#created-token").textContent = r.data.token;
      showOnce("#token-created-dialog", "#token-created-close");
    };
    return r;
  });

  // ---- teams ----
  const teamURL = (name) => "/api/v1/cube/teams/" + encodeURIComponent(name);
  const names = (v) => v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  addDialog("team", (form) => call("POST", "/api/v1/cube/teams", {
    name: form.name.value.trim(), description: form.description.value, members: names(form.members.value),
  }));
  const memberForm = $("#member-form");
  if (memberForm) {
    memberForm.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(memberForm, async () => {
        const r = await call("PUT", teamURL(memberForm.dataset.team) + "/members/" + encodeURIComponent(memberForm.user.value.trim()));
        if (!r.ok) { showError($("#member-error"), explain(r)); return; }
        location.reload();
      });
    });
  }

  // ---- grants ----
  addDialog("grant", (form) => {
    const all = form.elements["grant-all-clusters"].checked;
    const clusters = all ? ["*"] : Array.from(form.querySelectorAll("input[name=grant-cluster]:checked")).map((c) => c.value);
    const clusterWide = form.clusterWide.checked;
    return call("POST", "/api/v1/cube/grants", {
      subject: { kind: form.kind.value, name: form.subject.value.trim() }, role: form.role.value,
      clusters, namespaces: clusterWide ? [] : names(form.namespaces.value), clusterWide,
    });
  });
  const grantForm = $("#new-grant-form");
  if (grantForm) {
    // "All clusters" and a choice of clusters exclude each other; so do
    // namespaces and cluster-wide.
    const all = grantForm.elements["grant-all-clusters"];
    grantForm.addEventListener("change", (e) => {
      if (e.target === all && all.checked) grantForm.querySelectorAll("input[name=grant-cluster]").forEach((c) => { c.checked = false; });
      if (e.target.name === "grant-cluster" && e.target.checked) all.checked = false;
      if (e.target === grantForm.clusterWide) grantForm.namespaces.disabled = grantForm.clusterWide.checked;
    });
    grantForm.addEventListener("reset", () => { grantForm.namespaces.disabled = false; });
  }

  // isoTime turns a datetime-local value (the user's local time) into RFC 3339 UTC.
  const isoTime = (v) => new Date(v).toISOString().replace(/\.\d{3}Z$/, "Z");

  // scopeOf reads a dialog's scope editor; the server validates each entry and
  // names the one it refuses.
  function scopeOf(form) {
    const list = (name) => form.elements[name].value.split(",").map((s) => s.trim()).filter((s) => s !== "");
    return {
      clusters: Array.from(form.querySelectorAll("input[name=scope-cluster]:checked")).map((c) => c.value),
      namespaces: list("scope-namespaces"),
      readOnly: form.elements["scope-readonly"].checked,
      sources: list("scope-sources"),
      mintCredentials: form.elements["scope-mint"].checked,
    };
  }
})();
