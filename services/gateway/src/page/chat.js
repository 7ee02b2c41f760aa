// The chat page: plain JavaScript, no build step. It talks only to this gateway (same origin), with the tenant key
// the person typed; the OpenAI key lives in the workers and never comes near it.

const $ = (id) => document.getElementById(id);
const state = {
  key: sessionStorage.getItem("chatq-key"),
  conversation: sessionStorage.getItem("chatq-conversation"),
};

function newConversation() {
  state.conversation = `web-${crypto.randomUUID()}`;
  sessionStorage.setItem("chatq-conversation", state.conversation);
  $("log").replaceChildren();
}

function show(signedIn) {
  $("login").hidden = signedIn;
  $("chat").hidden = !signedIn;
  (signedIn ? $("message") : $("key")).focus();
}

function addMessage(role, text) {
  const li = document.createElement("li");
  li.className = role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : role === "assistant" ? "Assistant" : "Error";
  li.append(who, document.createTextNode(text));
  $("log").append(li);
  li.scrollIntoView({ block: "end" });
}

async function call(path, init) {
  const res = await fetch(path, {
    ...init,
    headers: {
      authorization: `Bearer ${state.key}`,
      "content-type": "application/json",
      ...(init?.headers ?? {}),
    },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.key = $("key").value.trim();
  try {
    const models = (await call("/v1/models")).data?.map((m) => m.id) ?? [];
    state.model = models.includes("gpt-4o-mini") ? "gpt-4o-mini" : (models[0] ?? state.model);
    sessionStorage.setItem("chatq-key", state.key);
    sessionStorage.setItem("chatq-model", state.model);
    $("login-error").textContent = "";
    if (!state.conversation) newConversation();
    show(true);
  } catch (err) {
    $("login-error").textContent = `Could not sign in: ${err.message}`;
  }
});

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("message").value.trim();
  if (!text) return;
  addMessage("user", text);
  $("message").value = "";
  $("send").disabled = true;
  $("status").textContent = "Waiting for the reply…";
  try {
    // Only the new turn: with X-Chatq-Conversation-Id the workers add the stored history themselves.
    const body = await call("/v1/chat/completions", {
      method: "POST",
      headers: { "x-chatq-conversation-id": state.conversation, "idempotency-key": crypto.randomUUID() },
      body: JSON.stringify({ model: state.model, messages: [{ role: "user", content: text }] }),
    });
    addMessage("assistant", body.choices?.[0]?.message?.content ?? "");
    $("status").textContent = "";
  } catch (err) {
    addMessage("error", err.message);
    $("status").textContent = "";
  } finally {
    $("send").disabled = false;
    $("message").focus();
  }
});

// Enter sends, Shift+Enter starts a new line.
$("message").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey) {
    e.preventDefault();
    $("composer").requestSubmit();
  }
});
$("new-chat").addEventListener("click", () => {
  newConversation();
  $("message").focus();
});
$("logout").addEventListener("click", () => {
  sessionStorage.clear();
  state.key = null;
  state.conversation = null;
  $("log").replaceChildren();
  show(false);
});

if (state.key) {
  if (!state.conversation) newConversation();
  show(true);
}
