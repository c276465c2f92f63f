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

  // ---- access keys ----
  const addKey = $("#add-key");
  if (addKey) {
    const dialog = $("#new-key-dialog");
    const form = $("#new-key-form");
    addKey.addEventListener("click", () => { form.reset(); showError($("#new-key-error"), ""); dialog.showModal(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(form, () => createKey(dialog, form));
    });
  }

  const userURL = (name) => "/api/v1/cube/users/" + encodeURIComponent(name);

  // ---- users ----
  const addUser = $("#add-user");
  if (addUser) {
    const dialog = $("#new-user-dialog");
    const form = $("#new-user-form");
    addUser.addEventListener("click", () => { form.reset(); showError($("#new-user-error"), ""); dialog.showModal(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(form, async () => {
        const r = await call("POST", "/api/v1/cube/users", { name: form.name.value.trim(), password: form.password.value, email: form.email.value.trim() });
        if (!r.ok) { showError($("#new-user-error"), explain(r)); return; }
        location.reload();
      });
    });
    const reset = $("#reset-form");
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
  const addCluster = $("#add-cluster");
  if (addCluster) {
    const dialog = $("#new-cluster-dialog");
    const form = $("#new-cluster-form");
    addCluster.addEventListener("click", () => { form.reset(); showError($("#new-cluster-error"), ""); dialog.showModal(); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      await busy(form, async () => {
        const r = await call("POST", "/api/v1/cube/clusters", {
          name: form.name.value.trim(), kubeconfig: form.kubeconfig.value, context: form.context.value.trim(), description: form.description.value,
        });
        if (!r.ok) { showError($("#new-cluster-error"), explain(r)); return; }
        location.reload();
      });
    });
  }

  async function createKey(dialog, form) {
    const body = { description: form.description.value };
    if (form.expiresAt.value) body.expiresAt = new Date(form.expiresAt.value).toISOString().replace(/\.\d{3}Z$/, "Z");
    const r = await call("POST", "/api/v1/cube/key/create", body);
    if (!r.ok) { showError($("#new-key-error"), explain(r)); return; }
    dialog.close();
    $("#created-ak").textContent = r.data.accessKey;
    $("#created-sk").textContent = r.data.secretKey;
    const created = $("#created-dialog");
    // Escape closes the dialog too: reload then, as the Close button does.
    created.addEventListener("close", () => location.reload(), { once: true });
    created.showModal();
    $("#created-close").focus();
  }
})();
