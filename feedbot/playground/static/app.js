// The playground page: a Telegram-like chat over /playground/api. Plain DOM, no framework.
// Message text is drawn from the entities the emulator parsed, always through text nodes:
// nothing the bot sends is ever parsed as HTML here.
"use strict";

const API = "/playground/api/";
const SAFE_LINK = /^(https?:|tg:|mailto:)/i;
const $ = (id) => document.getElementById(id);
const ui = { chats: [], commands: [], chat: null, thread: null, language: "en", unread: {}, bot: null };
// Inline mode: what "@bot words" listed above the composer. Each page of results is its own
// query (chosen results name it); `seq` tells a stale answer from the one for what is typed now.
const inline = { seq: 0, timer: null, words: null, results: [], next: "", active: -1 };
const INLINE_DEBOUNCE = 300;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function call(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(API + path, options);
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 3500);
}

// --- entities -> DOM ----------------------------------------------------------------------

function entityNode(entity, text) {
  switch (entity.type) {
    case "bold": return el("b");
    case "italic": return el("i");
    case "underline": return el("u");
    case "strikethrough": return el("s");
    case "code": return el("code");
    case "pre": return el("pre");
    case "blockquote": return el("blockquote");
    case "expandable_blockquote": {
      const quote = el("blockquote", "expandable");
      quote.addEventListener("click", () => quote.classList.add("open"));
      return quote;
    }
    case "spoiler": {
      const span = el("span", "spoiler");
      span.addEventListener("click", () => span.classList.add("shown"));
      return span;
    }
    case "text_link": case "url": {
      const href = entity.type === "url" ? text : entity.url || "";
      if (!SAFE_LINK.test(href)) return el("span", "link-refused");
      const a = el("a");
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      return a;
    }
    case "bot_command": {
      const span = el("span", "command");
      span.addEventListener("click", () => send(text.split("@")[0]));
      return span;
    }
    default: return el("span");
  }
}

function build(parent, text, entities, start, end) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const entity = entities[i];
    const stop = Math.min(entity.offset + entity.length, end);
    let j = i + 1;
    while (j < entities.length && entities[j].offset < stop) j++;
    if (entity.offset >= pos && stop > entity.offset) {
      if (entity.offset > pos) parent.append(text.slice(pos, entity.offset));
      const node = entityNode(entity, text.slice(entity.offset, stop));
      build(node, text, entities.slice(i + 1, j), entity.offset, stop);
      parent.append(node);
      pos = stop;
    }
    i = j;
  }
  if (pos < end) parent.append(text.slice(pos, end));
}

function formatted(text, entities) {
  const fragment = document.createDocumentFragment();
  const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  build(fragment, text, sorted, 0, text.length);
  return fragment;
}

// --- drawing ------------------------------------------------------------------------------

function current(chat, thread) {
  return ui.chat && chat === ui.chat.id && (thread ?? null) === ui.thread;
}

function drawMessage(m) {
  const box = el("div", `message ${m.from}${m.deleted ? " deleted" : ""}`);
  box.dataset.id = m.id;
  const bubble = el("div", "bubble");
  if (ui.chat.type !== "private" && m.from === "bot") bubble.append(el("div", "author", m.author));
  if (m.via) bubble.append(el("div", "via", `via @${m.via}`));
  if (m.deleted) bubble.append("Message deleted");
  else bubble.append(formatted(m.text, m.entities));
  const time = m.date ? new Date(m.date * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  bubble.append(el("span", "meta", (m.edited ? "edited " : "") + time));
  box.append(bubble);
  if (m.keyboard.length && !m.deleted) {
    const keys = el("div", "keyboard");
    for (const row of m.keyboard) {
      const line = el("div", "row");
      for (const b of row) {
        if (b.url && SAFE_LINK.test(b.url)) {
          const a = el("a", "", b.text);
          a.href = b.url;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          line.append(a);
        } else {
          const button = el("button", "", b.text);
          button.type = "button";
          button.addEventListener("click", () => press(m, b.data));
          line.append(button);
        }
      }
      keys.append(line);
    }
    box.append(keys);
  }
  return box;
}

function place(node, id) {
  const list = $("messages");
  const old = id === undefined ? null : list.querySelector(`.message[data-id="${id}"]`);
  if (old) old.replaceWith(node);
  else { list.append(node); list.scrollTop = list.scrollHeight; }
}

function drawRefusal(r) {
  const box = el("div", "refused");
  box.append(el("strong", "", `Telegram would refuse this (${r.method}, ${r.status})`));
  box.append(r.description);
  if (r.text) box.append("\n\n" + r.text);
  place(box);
}

function drawChatList() {
  const list = $("chat-list");
  list.replaceChildren();
  for (const chat of ui.chats) {
    const item = el("li", "chat" + (ui.chat && ui.chat.id === chat.id ? " active" : ""));
    item.dataset.chat = chat.id;
    item.dataset.type = chat.type;
    item.append(el("div", "avatar", chat.title.slice(0, 1).toUpperCase()));
    const label = el("div");
    label.append(el("div", "name", chat.title));
    const kind = chat.type === "private" ? "private chat" : chat.forum ? "forum group" : chat.type === "channel" ? "channel" : "group";
    label.append(el("div", "sub", kind));
    item.append(label, el("span", "badge", ui.unread[chat.id] ? String(ui.unread[chat.id]) : ""));
    item.addEventListener("click", () => open(chat.id, null));
    list.append(item);
  }
}

async function open(chatId, thread) {
  ui.chat = ui.chats.find((c) => c.id === chatId);
  ui.thread = thread;
  ui.unread[chatId] = 0;
  $("app").className = "show-chat";
  $("chat-title").textContent = ui.chat.title;
  $("chat-subtitle").textContent = ui.chat.type === "private" ? "bot" : ui.chat.type === "channel" ? "channel" : "group";
  $("role-box").hidden = ui.chat.role == null;
  if (ui.chat.role) $("role").value = ui.chat.role;
  const topics = $("topics");
  topics.hidden = !ui.chat.forum;
  topics.replaceChildren();
  for (const t of ui.chat.forum ? [{ id: null, name: "General" }, ...ui.chat.topics] : []) {
    const b = el("button", t.id === thread ? "active" : "", t.name);
    b.type = "button";
    b.dataset.topic = t.id ?? "";
    b.addEventListener("click", () => open(chatId, t.id));
    topics.append(b);
  }
  $("composer").hidden = ui.chat.type === "channel";
  $("readonly").hidden = ui.chat.type !== "channel";
  $("menu").hidden = true;
  closeInline();
  drawChatList();
  const query = `chat=${chatId}` + (thread == null ? "" : `&thread=${thread}`);
  const data = await call(`messages?${query}`);
  if (!current(chatId, thread)) return;
  $("messages").replaceChildren(...data.messages.map(drawMessage));
  $("messages").scrollTop = $("messages").scrollHeight;
}

// --- acting as the user -------------------------------------------------------------------

async function send(text) {
  if (!ui.chat || !text.trim()) return;
  try {
    await call("send", { chat: ui.chat.id, thread: ui.thread, text, language: ui.language });
  } catch (e) { toast(e.message); }
}

async function press(message, data) {
  try {
    await call("press", { chat: message.chat, message: message.id, data, language: ui.language });
  } catch (e) { toast(e.message); }
}

function drawMenu(filter) {
  const menu = $("menu");
  menu.replaceChildren();
  for (const c of ui.commands.filter((c) => ("/" + c.command).startsWith(filter))) {
    const b = el("button");
    b.type = "button";
    b.append(el("span", "cmd", "/" + c.command), el("span", "", c.description));
    b.addEventListener("click", () => { menu.hidden = true; $("text").value = ""; send("/" + c.command); });
    menu.append(b);
  }
  menu.hidden = !menu.children.length;
}

// --- inline mode: "@bot words" -------------------------------------------------------------

function inlineWords(text) {
  // The words after "@bot " (maybe none), or null when the text does not start so.
  if (!ui.bot) return null;
  const prefix = "@" + ui.bot;
  if (text.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return null;
  const rest = text.slice(prefix.length);
  return /^\s/.test(rest) ? rest.trimStart() : null;
}

function closeInline() {
  inline.seq++;
  clearTimeout(inline.timer);
  Object.assign(inline, { words: null, results: [], next: "", active: -1 });
  $("inline").hidden = true;
  $("inline").replaceChildren();
}

function drawInline(note) {
  const box = $("inline");
  box.replaceChildren();
  inline.results.forEach((r, i) => {
    const b = el("button", "result" + (i === inline.active ? " active" : ""));
    b.type = "button";
    b.setAttribute("role", "option");
    b.dataset.id = r.id;
    b.disabled = !r.sendable;
    b.append(el("span", "title", r.title || r.type));
    if (r.description) b.append(el("span", "description", r.description));
    b.addEventListener("mousedown", (e) => e.preventDefault()); // the input keeps the focus
    b.addEventListener("click", () => chooseInline(r));
    box.append(b);
  });
  if (note) box.append(el("div", "note", note));
  else if (!inline.results.length) box.append(el("div", "note", "No results"));
  if (inline.next) {
    const more = el("button", "more", "More");
    more.type = "button";
    more.addEventListener("mousedown", (e) => e.preventDefault());
    more.addEventListener("click", () => { more.disabled = true; askInline(inline.words, inline.next, inline.seq); });
    box.append(more);
  }
  box.hidden = false;
  const active = box.querySelector(".result.active");
  if (active) active.scrollIntoView({ block: "nearest" });
}

async function askInline(words, offset, seq) {
  if (!ui.chat) return;
  let data;
  try {
    data = await call("inline", { chat: ui.chat.id, thread: ui.thread, query: words, offset, language: ui.language });
  } catch (e) {
    if (seq === inline.seq) { inline.results = []; inline.next = ""; drawInline(e.message); }
    return;
  }
  if (seq !== inline.seq) return; // the text changed meanwhile
  const page = data.results.map((r) => ({ ...r, query: data.query }));
  if (offset === "") { inline.results = page; inline.active = -1; } else inline.results.push(...page);
  inline.words = words;
  inline.next = data.next_offset;
  drawInline(data.note);
}

function typedInline() {
  const words = inlineWords($("text").value);
  if (words === null) { if (inline.words !== null || !$("inline").hidden) closeInline(); return; }
  clearTimeout(inline.timer);
  const seq = ++inline.seq;
  inline.words = words;
  inline.timer = setTimeout(() => askInline(words, "", seq), INLINE_DEBOUNCE);
}

async function chooseInline(result) {
  closeInline();
  $("text").value = "";
  try { await call("choose", { query: result.query, result: result.id }); } catch (e) { toast(e.message); }
}

function inlineKeys(e) {
  // Up and down walk the results, Enter sends the one marked, Escape closes the list.
  if ($("inline").hidden && inline.words === null) return;
  if (e.key === "Escape") { e.preventDefault(); closeInline(); return; }
  const count = inline.results.length;
  if ((e.key === "ArrowDown" || e.key === "ArrowUp") && count) {
    e.preventDefault();
    const step = e.key === "ArrowDown" ? 1 : -1;
    inline.active = inline.active < 0 && step < 0 ? count - 1 : (inline.active + step + count) % count;
    drawInline();
  } else if (e.key === "Enter" && inline.active >= 0 && inline.results[inline.active].sendable) {
    e.preventDefault();
    chooseInline(inline.results[inline.active]);
  }
}

async function loadState() {
  const state = await call(`state?language=${ui.language}`);
  ui.chats = state.chats;
  ui.commands = state.commands;
  ui.bot = state.running ? state.bot.username : null;
  $("status").textContent = state.running
    ? `You are chatting with @${state.bot.username}.`
    : `The playground is not running${state.problem ? ": " + state.problem : ""}.`;
  drawChatList();
}

// --- live events --------------------------------------------------------------------------

function listen() {
  const events = new EventSource(API + "events");
  const on = (type, fn) => events.addEventListener(type, (e) => fn(JSON.parse(e.data)));
  on("message", (m) => {
    if (current(m.chat, m.thread)) place(drawMessage(m), m.id);
    else { ui.unread[m.chat] = (ui.unread[m.chat] || 0) + 1; drawChatList(); }
  });
  on("edit", (m) => { if (current(m.chat, m.thread)) place(drawMessage(m), m.id); });
  on("delete", (d) => {
    const node = ui.chat && ui.chat.id === d.chat && $("messages").querySelector(`.message[data-id="${d.id}"]`);
    if (node) node.replaceWith(drawMessage({ ...d, from: "bot", deleted: true, keyboard: [], text: "", entities: [], thread: null }));
  });
  on("refused", (r) => {
    if (ui.chat && (r.chat === ui.chat.id || r.chat === null)) drawRefusal(r);
    else toast(`Telegram would refuse a post: ${r.description}`);
  });
  on("answer", (a) => toast(a.text));
  on("role", (r) => { const c = ui.chats.find((x) => x.id === r.chat); if (c) c.role = r.role; });
  events.addEventListener("open", () => { if (ui.chat) open(ui.chat.id, ui.thread); });
}

function main() {
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("text").value;
    $("text").value = "";
    $("menu").hidden = true;
    closeInline();
    send(text);
  });
  $("text").addEventListener("input", () => {
    const v = $("text").value;
    if (v.startsWith("/") && !v.includes(" ")) drawMenu(v); else $("menu").hidden = true;
    typedInline();
  });
  $("text").addEventListener("keydown", inlineKeys);
  $("menu-button").addEventListener("click", () => {
    if ($("menu").hidden) drawMenu("/"); else $("menu").hidden = true;
  });
  $("back").addEventListener("click", () => { $("app").className = "show-list"; });
  $("language").addEventListener("change", async () => { ui.language = $("language").value; await loadState(); });
  $("role").addEventListener("change", async () => {
    try { await call("role", { chat: ui.chat.id, role: $("role").value }); ui.chat.role = $("role").value; }
    catch (e) { toast(e.message); }
  });
  loadState().then(() => {
    listen();
    if (window.innerWidth > 700 && ui.chats.length) open(ui.chats[0].id, null);
  }).catch((e) => { $("status").textContent = e.message; });
}

main();
