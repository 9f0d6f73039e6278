// What every page script shares, loaded first on every page (/, /inbox, /office) and exposed as
// window.routerPage: elements built with text only (never HTML from the server), the status
// line, the saved token and name for endpoints that record who acted, and JSON calls to
// /api/v1 that fail with the server's own message. It keeps no page state.
"use strict";

(function () {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  // "text" sets textContent, "class" the class, "on…" a listener; string children become text nodes.
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  // A table cell appended to the row: a node as it is, anything else as text.
  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content);
    else td.textContent = content == null ? "" : String(content);
    row.appendChild(td);
    return td;
  }

  function say(id, text, kind = "") {
    const node = $(id);
    node.textContent = text;
    node.className = `msg ${kind}`;
  }

  // The personal token saved in this tab and the dispatcher's name (sent encoded: it is Chinese).
  function credentials(headers, who) {
    const token = sessionStorage.getItem("router.token");
    if (token) headers.Authorization = `Bearer ${token}`;
    if (who) headers["X-Dispatcher"] = encodeURIComponent(who);
    return headers;
  }

  // The name typed in the dispatcher's page's 经办人 box (the registry and 本地职责 record it).
  const typedName = () => ($("dispatcher") && $("dispatcher").value.trim()) || "";

  // body goes as JSON, form (FormData) as it is; with who (even "") the credentials go along.
  // A failure throws an Error with the server's detail, its status and its data.
  async function call(method, path, body, { form, who } = {}) {
    const headers = { Accept: "application/json" };
    if (who !== undefined) credentials(headers, who);
    let payload;
    if (form) payload = form;
    else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const res = await fetch(API + path, { method, headers, body: payload });
    let data = null;
    try { data = await res.json(); } catch (_) { data = null; }
    if (!res.ok) {
      const error = new Error((data && typeof data.detail === "string") ? data.detail : `请求失败（${res.status}）`);
      error.status = res.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  window.routerPage = Object.freeze({ API, $, el, cell, say, credentials, typedName, call });
})();
