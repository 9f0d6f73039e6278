// The handling unit's inbox: its items as 主办 or 会办, 签收, 申请退办/延期, reply upload, 会办意见.
// Every text from the server is set with textContent, never as HTML.
"use strict";

(function () {
  const { API, $, el, say, call } = routerPage;
  const state = { items: [], chosen: null, me: null };

  function deadline(item) {
    const cell = el("td", { text: item.due_on || "—" });
    if (item.days_overdue > 0) cell.append(" ", el("span", { class: "badge late", text: `超期 ${item.days_overdue} 天` }));
    else if (item.due_soon) cell.append(" ", el("span", { class: "badge soon", text: "即将到期" }));
    return cell;
  }

  function status(item) {
    const cell = el("td", { text: item.status });
    for (const kind of item.pending) cell.append(" ", el("span", { class: "badge soon", text: `${kind}待审批` }));
    return cell;
  }

  async function load() {
    const open = $("i-open").checked;
    try {
      const box = await call("GET", `/inbox?open=${open}`);
      state.items = box.items;
      $("i-title").textContent = `${box.unit} 承办的建议`;
      const late = box.items.filter((i) => i.days_overdue > 0).length;
      const soon = box.items.filter((i) => i.due_soon).length;
      $("i-summary").textContent = `共 ${box.items.length} 件；超期 ${late} 件，即将到期 ${soon} 件（${box.due_soon_until ? "至 " + box.due_soon_until : "工作日历未收录"}）`;
      const body = $("i-table").querySelector("tbody");
      body.replaceChildren();
      for (const item of box.items) {
        const row = el(
          "tr",
          { class: `pick${item.days_overdue > 0 ? " overdue" : item.due_soon ? " soon" : ""}${state.chosen === item.id ? " chosen" : ""}`, "data-id": String(item.id), onclick: () => show(item.id) },
          el("td", { text: item.number }),
          el("td", { text: item.title }),
          el("td", { text: item.role }),
          status(item),
          deadline(item),
          el("td", { text: item.signed_at ? "已签收" : "未签收" }),
          el("td", { text: item.return_window_ends || "—" }),
        );
        body.append(row);
      }
      say("i-msg", box.items.length ? "" : "收件箱里没有建议。");
      if (state.chosen !== null) {
        if (box.items.some((i) => i.id === state.chosen)) await show(state.chosen);
        else $("d-card").hidden = true;
      }
    } catch (e) {
      say("i-msg", e.message, "error");
    }
  }

  async function show(id) {
    state.chosen = id;
    for (const tr of $("i-table").querySelectorAll("tbody tr")) tr.classList.toggle("chosen", tr.dataset.id === String(id));
    const item = state.items.find((i) => i.id === id);
    try {
      const [p, cyc] = await Promise.all([call("GET", `/proposals/${id}`), call("GET", `/cycle/${id}`)]);
      $("d-card").hidden = false;
      $("d-title").textContent = `${p.number} ${p.title}`;
      const facts = $("d-facts");
      facts.replaceChildren();
      const add = (k, v) => facts.append(el("dt", { text: k }), el("dd", { text: v }));
      add("代表/委员", p.deputy_name || "—");
      add("本单位", item.role);
      add("状态", p.status);
      add("办理期限", p.due_on || "—");
      add("退办截止", item.return_window_ends || "工作日历未收录");
      if (cyc.key_supervision) add("督办", "重点督办");
      $("d-content").textContent = p.content;
      const list = $("d-cycle");
      list.replaceChildren();
      for (const a of cyc.assignments) {
        const line = `${a.role} ${a.unit}：${a.signed_at ? "已签收（" + a.signed_by + "）" : "未签收"}`;
        list.append(el("li", { text: a.opinion ? `${line}；会办意见：${a.opinion}` : line }));
      }
      for (const r of cyc.requests) {
        const answer = r.status === "待审批" ? "待审批" : `${r.status}${r.decision_note ? "（" + r.decision_note + "）" : ""}`;
        list.append(el("li", { text: `${r.kind}申请（${r.unit}）：${r.reason}${r.until ? "，延至 " + r.until : ""} — ${answer}` }));
      }
      for (const r of cyc.replies) {
        const link = el("a", { href: `${API}/replies/${r.id}`, text: r.filename });
        const li = el("li", {}, "答复：", link, ` ${r.status}`);
        if (r.return_note) li.append(`（退回意见：${r.return_note}）`);
        list.append(li);
      }
      const open = p.status === "已分办" || p.status === "办理中";
      const lead = item.role === "主办";
      const mine = cyc.assignments.find((a) => a.unit === state.me.unit);
      $("a-sign").hidden = !open || !mine || Boolean(mine.signed_at);
      $("a-return").hidden = !open;
      $("a-return-hint").textContent = item.return_window_ends ? `分办后 5 个工作日内可申请，本件截至 ${item.return_window_ends}。` : "";
      $("a-extend").hidden = !open || !lead;
      $("a-reply").hidden = !open || !lead;
      $("a-opinion").hidden = !open || lead;
      say("d-msg", "");
    } catch (e) {
      say("d-msg", e.message, "error");
    }
  }

  async function act(fn, done) {
    try {
      await fn();
      await load();
      // an item that left the open list (replied, returned) takes its detail with it
      say($("d-card").hidden ? "i-msg" : "d-msg", done, "ok");
    } catch (e) {
      say("d-msg", e.message, "error");
    }
  }

  function wire() {
    $("i-filter").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    $("i-open").addEventListener("change", load);
    $("btn-sign").addEventListener("click", () => act(() => call("POST", `/inbox/${state.chosen}/sign`), "已签收。"));
    $("btn-return").addEventListener("click", () =>
      act(() => call("POST", `/inbox/${state.chosen}/return`, { reason: $("return-reason").value }), "退办申请已提交，等待督查室审批。"));
    $("btn-extend").addEventListener("click", () =>
      act(() => call("POST", `/inbox/${state.chosen}/extension`, { reason: $("extend-reason").value, until: $("extend-until").value }), "延期申请已提交，等待督查室审批。"));
    $("btn-opinion").addEventListener("click", () =>
      act(() => call("POST", `/inbox/${state.chosen}/opinion`, { opinion: $("opinion-text").value }), "会办意见已提交。"));
    $("btn-reply").addEventListener("click", () => {
      const file = $("reply-file").files[0];
      if (!file) { say("d-msg", "请先选择答复文件（.docx 或 .pdf）。", "error"); return; }
      const form = new FormData();
      form.append("file", file);
      act(() => call("POST", `/inbox/${state.chosen}/reply`, undefined, { form }), "答复已上传，本件已答复。");
    });
  }

  window.routerAccount.then((me) => {
    state.me = me;
    wire();
    load();
  });
})();
