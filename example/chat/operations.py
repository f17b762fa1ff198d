"""The operations the GraphiQL page opens with: those of the README of
django-channels-graphql-ws, named uniquely so that one document holds them
all (GraphiQL's run button offers each by name)."""

from __future__ import annotations

__all__ = ["DEFAULT_TABS"]

CHAT = """\
# The old README's operations, over the page's
# WebSocket. Run them in order: the run button
# asks which one.

# Check there are no messages.
query read {
  history(chatroom: "kittens") {
    chatroom text sender
  }
}

# Send a message as Anonymous.
mutation send {
  sendChatMessage(
    chatroom: "kittens", text: "Hi all!"
  ) { ok }
}

# Login as `user` (created on first start). The
# login holds for this page's WebSocket; a reload
# starts anonymous again.
mutation login {
  login(username: "user", password: "pass") { ok }
}

# Send a message as `user`.
mutation sendAsUser {
  sendChatMessage(
    chatroom: "kittens", text: "It is me!"
  ) { ok }
}

# Send again: a subscription elsewhere triggers.
mutation sendAgain {
  sendChatMessage(
    chatroom: "kittens", text: "Something ;-)!"
  ) { ok }
}
"""

SUBSCRIBE = """\
# Subscribe here, then send from another tab
# (logged in) or another browser: your own
# messages are skipped.
subscription s {
  onNewChatMessage(chatroom: "kittens") {
    text sender
  }
}
"""

#: GraphiQL `defaultTabs`, used while the browser has no saved tabs.
DEFAULT_TABS = ({"query": CHAT}, {"query": SUBSCRIBE})
