// The supervision office's 督办 view: approve 退办/延期, overdue and due-soon items per unit,
// 督办通知 per unit, 重点督办, 退回重办 of a poor reply, the annual report.
"use strict";

(function () {
  const { API, $, el, say, call } = routerPage;
  const state = { me: null, units: {} };

  const local = (iso) => new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false }).slice(0, -3);
  const office = () => state.me.role === "分办人员" || state.me.role === "管理员";

  async function requests() {
    const body = $("q-table").querySelector("tbody");
    try {
      const rows = await call("GET", "/office/requests");
      body.replaceChildren();
      for (const r of rows) {
        const note = el("input", { placeholder: "意见（不同意时必填）", maxlength: "2000", class: "note" });
        const answer = (approve) => async () => {
          try {
            await call("POST", `/office/requests/${r.id}`, { approve, note: note.value || null });
            say("q-msg", `${r.number} 的${r.kind}申请已${approve ? "同意" : "不同意"}。`, "ok");
            await refresh();
          } catch (e) { say("q-msg", e.message, "error"); }
        };
        const acts = office()
          ? el("div", { class: "rowacts" }, note,
              el("button", { type: "button", class: "approve", text: "同意", onclick: answer(true) }),
              el("button", { type: "button", class: "refuse", text: "不同意", onclick: answer(false) }))
          : el("span", { class: "muted", text: "由督查室审批" });
        body.append(el("tr", {},
          el("td", { text: r.number }), el("td", { text: r.title }), el("td", { text: state.units[r.unit] || r.unit }),
          el("td", { text: r.kind + (r.until ? `（延至 ${r.until}）` : "") }), el("td", { text: r.reason }),
          el("td", { text: r.due_on || "—" }), el("td", { text: r.requested_by }), el("td", {}, acts)));
      }
      if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "muted", text: "没有待审批的申请。" })));
    } catch (e) { say("q-msg", e.message, "error"); }
  }

  function itemLine(i, late) {
    const li = el("li", {}, `${i.number} ${i.title} · 期限 ${i.due_on} `);
    li.append(el("span", { class: late ? "badge late" : "badge soon", text: late ? `超期 ${i.days_overdue} 天` : "即将到期" }));
    if (i.key_supervision) li.append(" ", el("span", { class: "badge key", text: "重点督办" }));
    if (office()) {
      li.append(" ", el("button", {
        type: "button", class: "key", text: i.key_supervision ? "取消重点" : "重点督办",
        onclick: async () => {
          try { await call("POST", `/office/proposals/${i.id}/key`, { on: !i.key_supervision }); await supervision(); }
          catch (e) { say("s-msg", e.message, "error"); }
        },
      }));
    }
    return li;
  }

  async function supervision() {
    try {
      const view = await call("GET", "/office/supervision");
      const box = $("s-units");
      box.replaceChildren();
      let late = 0, soon = 0;
      for (const u of view.units) {
        late += u.overdue.length; soon += u.due_soon.length;
        const list = el("ul", { class: "plain" });
        for (const i of u.overdue) list.append(itemLine(i, true));
        for (const i of u.due_soon) list.append(itemLine(i, false));
        box.append(el("div", { class: "unitcard", "data-unit": u.unit },
          el("h3", { text: `${u.unit_name}：超期 ${u.overdue.length} 件，即将到期 ${u.due_soon.length} 件` }), list));
      }
      $("s-summary").textContent = `${view.today}：超期 ${late} 件，${view.due_soon_until} 前到期 ${soon} 件。`;
      if (!view.units.length) box.append(el("p", { class: "muted", text: "没有超期或即将到期的事项。" }));
      $("btn-notices").hidden = !office();
      const list = $("n-list");
      list.replaceChildren();
      for (const n of view.notices) {
        list.append(el("li", {},
          el("a", { href: `${API}/office/notices/${n.id}`, text: n.filename }),
          ` · ${n.items} 件 · ${n.created_by} · ${local(n.created_at)}`));
      }
      if (!view.notices.length) list.append(el("li", { class: "muted", text: "尚未发出督办通知。" }));
    } catch (e) { say("s-msg", e.message, "error"); }
  }

  async function replied() {
    const body = $("a-table").querySelector("tbody");
    try {
      const data = await call("GET", "/proposals?status=已答复&limit=200");
      body.replaceChildren();
      for (const p of data.items) {
        const cyc = await call("GET", `/cycle/${p.id}`);
        const reply = cyc.replies.filter((r) => r.status === "有效").pop();
        const note = el("input", { placeholder: "退回意见", maxlength: "2000" });
        const back = el("button", {
          type: "button", text: "退回重办",
          onclick: async () => {
            try {
              await call("POST", `/office/proposals/${p.id}/send-back`, { note: note.value });
              say("a-msg", `${p.number} 已退回重办。`, "ok");
              await refresh();
            } catch (e) { say("a-msg", e.message, "error"); }
          },
        });
        body.append(el("tr", {},
          el("td", { text: p.number }), el("td", { text: p.title }),
          el("td", { text: p.decision ? (state.units[p.decision.lead_unit] || p.decision.lead_unit || "") : "" }),
          el("td", { text: p.replied_on || "" }),
          el("td", {}, reply ? el("a", { href: `${API}/replies/${reply.id}`, text: reply.filename }) : el("span", { class: "muted", text: "无上传文件" })),
          el("td", {}, reply ? el("div", { class: "rowacts" }, note, back) : "")));
      }
      if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: "6", class: "muted", text: "没有已答复的建议。" })));
    } catch (e) { say("a-msg", e.message, "error"); }
  }

  async function sessions() {
    try {
      const stats = await call("GET", "/stats");
      const pick = $("r-session");
      pick.replaceChildren(...stats.sessions.map((s) => el("option", { value: s, text: s })));
      const links = () => {
        const s = encodeURIComponent(pick.value);
        $("r-docx").href = `${API}/office/report?session=${s}&format=docx`;
        $("r-xlsx").href = `${API}/office/report?session=${s}&format=xlsx`;
      };
      pick.addEventListener("change", links);
      links();
    } catch (_) { /* the report box stays empty */ }
  }

  async function refresh() {
    await Promise.all([requests(), supervision(), replied()]);
  }

  $("btn-notices").addEventListener("click", async () => {
    try {
      const made = await call("POST", "/office/supervision/notices", { include_due_soon: $("n-soon").checked });
      say("s-msg", `已生成 ${made.length} 份督办通知：${made.map((n) => n.filename).join("、")}`, "ok");
      await supervision();
    } catch (e) { say("s-msg", e.message, "error"); }
  });

  window.routerAccount.then(async (me) => {
    state.me = me;
    try {
      const units = await call("GET", "/units");
      for (const u of units.units) state.units[u.label] = u.unit;
    } catch (_) { /* labels stay as they are */ }
    await Promise.all([refresh(), sessions()]);
  });
})();
