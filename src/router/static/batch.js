// The batch upload box: send a whole ledger to POST /api/v1/batch, offer the routed workbook.
// Kept apart from app.js; it reads the same saved token and dispatcher name for registration.
"use strict";

(() => {
  const { $ } = routerPage;
  const form = $("batch-form");
  if (!form) return;
  let lastUrl = null;

  const say = (text, kind) => routerPage.say("batch-msg", text, kind);

  function fileName(res) {
    const header = res.headers.get("Content-Disposition") || "";
    const match = /filename\*=UTF-8''([^;]+)/i.exec(header);
    try {
      return match ? decodeURIComponent(match[1]) : "分办结果.xlsx";
    } catch (_) {
      return "分办结果.xlsx";
    }
  }

  // Headers the reader does not know: offer the file's columns to pick the title and body from.
  function showColumns(columns) {
    const box = $("batch-columns");
    box.replaceChildren();
    const make = (id, text) => {
      const select = document.createElement("select");
      select.id = id;
      const none = document.createElement("option");
      none.value = "";
      none.textContent = "（不用）";
      select.append(none);
      for (const c of columns) {
        const option = document.createElement("option");
        option.value = c.letter;
        option.textContent = `${c.letter} 列：${c.name}`;
        select.append(option);
      }
      const label = document.createElement("label");
      label.append(text, select);
      return label;
    };
    box.append(make("batch-title-col", "标题列"), make("batch-content-col", "正文列"));
    box.hidden = false;
  }

  $("batch-file").addEventListener("change", () => {
    const box = $("batch-columns");
    box.replaceChildren();
    box.hidden = true;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("batch-file").files[0];
    if (!file) {
      say("请先选择台账文件。", "error");
      return;
    }
    const register = $("batch-register").checked;
    const session = $("batch-session").value.trim();
    if (register && !session) {
      say("登记到台账时请填写届次。", "error");
      return;
    }
    const body = new FormData();
    body.append("file", file);
    for (const [field, id] of [["title_col", "batch-title-col"], ["content_col", "batch-content-col"]]) {
      const pick = $(id);
      if (pick && pick.value) body.append(field, pick.value);
    }
    const headers = { Accept: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, application/json" };
    let url = "/api/v1/batch";
    if (register) {
      url = "/api/v1/batch/register";
      body.append("session", session);
      routerPage.credentials(headers, (localStorage.getItem("router.dispatcher") || "").trim());
    }
    const button = $("btn-batch");
    const link = $("batch-download");
    button.disabled = true;
    link.hidden = true;
    // The server answers once the whole file is done: say how long it has been working, and what.
    const started = Date.now();
    const working = () => say(`正在处理 ${file.name}：逐行分办、并案比对、生成工作簿……（已用 ${Math.round((Date.now() - started) / 1000)} 秒）`);
    working();
    const timer = setInterval(working, 1000);
    try {
      const res = await fetch(url, { method: "POST", headers, body });
      if (!res.ok) {
        let message = `请求失败（${res.status}）`;
        try {
          const data = await res.json();
          if (data && typeof data.detail === "string") message = data.detail;
          if (data && Array.isArray(data.columns)) showColumns(data.columns);
        } catch (_) { /* not JSON */ }
        if (res.status === 401) message += " 请在右上角填写访问令牌。";
        say(message, "error");
        return;
      }
      const blob = await res.blob();
      if (lastUrl) URL.revokeObjectURL(lastUrl);
      lastUrl = URL.createObjectURL(blob);
      link.href = lastUrl;
      link.download = fileName(res);
      link.textContent = `下载 ${link.download}`;
      link.hidden = false;
      const h = (name) => res.headers.get(name) || "0";
      let text = `共 ${h("X-Batch-Rows")} 行：已给出建议 ${h("X-Batch-Routed")} 行（可批量确认 ${h("X-Batch-Confirmable")}，需人工复核 ${h("X-Batch-Review")}），问题行 ${h("X-Batch-Problems")}，并案 ${h("X-Batch-Groups")} 组。`;
      if (register) text += ` 新登记 ${h("X-Batch-Registered")} 件，已在台账 ${h("X-Batch-Existing")} 件。`;
      const others = res.headers.get("X-Batch-Other-Sheets");
      if (others) {
        const names = others.split(",").map((n) => `“${decodeURIComponent(n)}”`).join("、");
        text += ` 注意：工作簿中还有像台账的工作表未处理：${names}，请另存为单独的文件后再上传。`;
      }
      say(text, "ok");
      document.dispatchEvent(new CustomEvent("router:batch", {
        detail: { register, session, confirmable: Number(h("X-Batch-Confirmable")) },
      }));
    } catch (err) {
      say(`上传失败：${err.message}`, "error");
    } finally {
      clearInterval(timer);
      button.disabled = false;
    }
  });
})();
