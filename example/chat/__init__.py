"""The gqlws chat example: Django project and app in one package.

Chat rooms over GraphQL on WebSocket: `history`, `sendChatMessage`, `login` and
the `onNewChatMessage` subscription, served by `gqlws_server_channels`.
"""
