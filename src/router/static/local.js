// 本地职责: topics whose handler differs between cities, and the bureau's own setting for each.
// The office sets a handler (or clears it); every change is kept with who, when and why.
"use strict";

(() => {
  const { $, cell } = routerPage;
  const tab = $("tab-local");
  const view = $("view-local");
  if (!tab || !view) return;

  const say = (text, kind) => routerPage.say("j-msg", text, kind);
  const call = (method, path, body) => routerPage.call(method, path, body, { who: routerPage.typedName() });

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString("zh-CN", { hour12: false });
  }

  async function save(topic, select, reason) {
    const handler = select.value || null;
    say("正在保存……");
    try {
      await call("PUT", `/jurisdiction/${encodeURIComponent(topic)}`, { handler, reason: reason.value.trim() });
      await load();
      say(handler ? `已设为由 ${handler} 承办；此后的分办建议按此设定。` : "已取消本地设定，此类事项恢复提示人工复核。", "ok");
    } catch (err) {
      say(err.message, "error");
    }
  }

  async function load() {
    let data, history;
    try {
      [data, history] = await Promise.all([
        call("GET", "/jurisdiction"),
        call("GET", "/jurisdiction/history"),
      ]);
    } catch (err) {
      say(err.message, "error");
      return;
    }
    const body = $("j-table").querySelector("tbody");
    body.replaceChildren();
    for (const t of data.topics) {
      const row = document.createElement("tr");
      cell(row, t.name);
      cell(row, t.candidates.join("、"));
      const select = document.createElement("select");
      select.setAttribute("aria-label", `${t.name}的本地承办方`);
      select.appendChild(new Option("未设定（提示人工复核）", ""));
      for (const c of t.candidates) select.appendChild(new Option(c, c, false, c === t.handler));
      cell(row, select);
      const reason = document.createElement("input");
      reason.maxLength = 500;
      reason.placeholder = "依据，如分工文件";
      reason.value = t.reason || "";
      cell(row, reason);
      cell(row, t.set_by ? `${t.set_by} ${when(t.set_at)}` : "");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "保存";
      button.addEventListener("click", () => save(t.topic, select, reason));
      cell(row, button);
      body.appendChild(row);
    }
    const list = $("j-history").querySelector("tbody");
    list.replaceChildren();
    for (const e of history.slice().reverse()) {
      const row = document.createElement("tr");
      cell(row, e.version);
      cell(row, e.name);
      cell(row, `${e.previous || "未设定"} → ${e.handler || "未设定"}`);
      cell(row, e.by);
      cell(row, when(e.at));
      cell(row, e.reason);
      list.appendChild(row);
    }
    say(`第 ${data.version} 版设定。`);
  }

  tab.addEventListener("click", load);
})();
