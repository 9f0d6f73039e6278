// The login gate shared by every page (/, /inbox, /office): nothing of the ledger shows until
// the account is known. The session lives in an HttpOnly cookie; writes carry the CSRF token
// (double submit: the router_csrf cookie sent back as X-CSRF-Token), added here to every
// same-origin fetch that is not a read, so app.js and batch.js need no change.
"use strict";

(function () {
  const { API, el: node } = routerPage;  // static/common.js, loaded before this
  const SAFE = ["GET", "HEAD", "OPTIONS"];
  const ROLE_HOME = { "承办单位经办人": "/inbox" };

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)router_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  const plainFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    init = init || {};
    const method = (init.method || (input && input.method) || "GET").toUpperCase();
    const url = typeof input === "string" ? input : (input && input.url) || "";
    const sameOrigin = url.startsWith("/") || url.startsWith(location.origin);
    if (!SAFE.includes(method) && sameOrigin && csrf()) {
      const headers = new Headers(init.headers || {});
      headers.set("X-CSRF-Token", csrf());
      init = Object.assign({}, init, { headers, credentials: "same-origin" });
    }
    return plainFetch(input, init);
  };

  function badge(me) {
    const place = document.getElementById("account") || document.querySelector(".top");
    if (!place) return;
    const who = me.unit ? `${me.name}（${me.role} · ${me.unit}）` : `${me.name}（${me.role}）`;
    const out = node("button", { type: "button", id: "logout", class: "tab", text: "退出" });
    out.addEventListener("click", async () => {
      await fetch(API + "/auth/logout", { method: "POST" });
      localStorage.removeItem("router.dispatcher");
      location.reload();
    });
    const box = node("span", { class: "account", id: "account-box" }, node("span", { id: "account-name", text: who }));
    if (me.via !== "dev") box.append(out);
    place.append(box);
    const legacy = document.getElementById("who");  // the old name-and-token box: the account replaces it
    if (legacy) legacy.hidden = true;
    for (const link of document.querySelectorAll("[data-roles]")) {
      link.hidden = !link.dataset.roles.split(",").includes(me.role);
    }
  }

  function gate(resolve) {
    document.body.classList.add("locked");
    const name = node("input", { id: "login-name", autocomplete: "username", maxlength: "64", required: "" });
    const pass = node("input", { id: "login-password", type: "password", autocomplete: "current-password", required: "" });
    const msg = node("p", { id: "login-msg", class: "msg error", role: "alert" });
    const form = node(
      "form",
      { id: "login-form", class: "card login" },
      node("h2", { text: "请登录" }),
      node("p", { class: "muted", text: "台帐含代表姓名和建议全文，登录后才能查看。账号由管理员开设。" }),
      node("label", {}, "账号", name),
      node("label", {}, "密码", pass),
      node("button", { type: "submit", class: "primary", id: "login-submit", text: "登录" }),
      msg,
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      msg.textContent = "";
      const res = await plainFetch(API + "/auth/login", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ name: name.value.trim(), password: pass.value }),
      });
      let data = null;
      try { data = await res.json(); } catch (_) { data = null; }
      if (!res.ok) {
        msg.textContent = (data && typeof data.detail === "string") ? data.detail : `登录失败（${res.status}）`;
        return;
      }
      localStorage.setItem("router.dispatcher", data.name);
      const home = ROLE_HOME[data.role];
      if (home && location.pathname !== home) location.assign(home);
      else location.reload();
    });
    const shade = node("div", { id: "login-shade", class: "shade" }, form);
    document.body.append(shade);
    name.focus();
  }

  // Pages wait on this: it resolves with the account once someone is logged in.
  window.routerAccount = new Promise((resolve) => {
    const start = async () => {
      const res = await plainFetch(API + "/auth/me", { headers: { Accept: "application/json" } });
      if (res.status === 401) { gate(resolve); return; }
      const me = await res.json();
      localStorage.setItem("router.dispatcher", me.name);
      const home = ROLE_HOME[me.role];
      if (home && location.pathname !== home) { location.assign(home); return; }
      badge(me);
      resolve(me);
    };
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
    else start();
  });
})();
