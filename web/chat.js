// The chat view: user transcripts on the right, assistant replies (streaming) on the left.

/** Merges a streamed reply piece into the text so far: a piece that starts with the text so
 *  far is the full text so far; anything else is a delta to append. */
export function mergeReplyText(current, piece) {
  if (!current) return piece;
  if (piece.startsWith(current)) return piece;
  return current + piece;
}

export class ChatView {
  constructor(list, emptyItem) {
    this.list = list;
    this.emptyItem = emptyItem;
  }

  nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
  }

  append(item) {
    const stick = this.nearBottom();
    if (this.emptyItem && this.emptyItem.isConnected) this.emptyItem.remove();
    this.list.append(item);
    if (stick) this.scrollToEnd();
  }

  scrollToEnd() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** A finished user utterance (or typed message). */
  addUser(text, label = "You") {
    const bubble = new Bubble("user", label);
    bubble.setText(text);
    this.append(bubble.el);
    return bubble;
  }

  /** An assistant reply; its text can grow while it streams. */
  addAssistant(label = "Assistant") {
    const bubble = new Bubble("assistant", label);
    bubble.onGrow = () => {
      if (this.nearBottom()) this.scrollToEnd();
    };
    this.append(bubble.el);
    return bubble;
  }

  /** A quiet one-line note (connection changes and the like). */
  addSystem(text) {
    const li = document.createElement("li");
    li.className = "msg msg-system";
    li.textContent = text;
    this.append(li);
  }
}

export class Bubble {
  constructor(role, label) {
    this.role = role;
    this.text = "";
    this.turnId = null;
    this.el = document.createElement("li");
    this.el.className = `msg msg-${role}`;
    const who = document.createElement("span");
    who.className = "msg-who";
    who.textContent = label;
    this.bubble = document.createElement("div");
    this.bubble.className = "msg-bubble";
    this.textEl = document.createElement("span");
    this.textEl.className = "msg-text";
    this.bubble.append(this.textEl);
    this.meta = document.createElement("div");
    this.meta.className = "msg-meta";
    this.el.append(who, this.bubble, this.meta);
    this.tags = new Map();
  }

  setText(text) {
    this.text = text;
    this.textEl.textContent = text;
    this.onGrow?.();
  }

  /** After a barge-in: shows which part of the reply was heard and dims the rest. */
  markHeard(heardText) {
    const heard = heardText.trim();
    if (!this.text.startsWith(heard) || heard.length >= this.text.length) return;
    const rest = document.createElement("span");
    rest.className = "msg-unheard";
    rest.textContent = this.text.slice(heard.length);
    rest.title = "Not spoken: you interrupted here";
    this.textEl.replaceChildren(document.createTextNode(heard), rest);
  }

  setStreaming(on) {
    this.el.dataset.streaming = String(on);
  }

  setSpeaking(on) {
    this.el.dataset.speaking = String(on);
  }

  /** Sets (or with null removes) a small labelled tag under the bubble. */
  tag(key, text, tone = "") {
    let el = this.tags.get(key);
    if (text === null) {
      el?.remove();
      this.tags.delete(key);
      return;
    }
    if (!el) {
      el = document.createElement("span");
      this.tags.set(key, el);
      this.meta.append(el);
    }
    el.className = tone ? `tag tag-${tone}` : "tag";
    el.textContent = text;
  }
}
