"""One channel per event loop that joins Channels groups for its consumers.

A broadcast to a group of N subscriber connections costs the channel layer N
messages when every connection is a group member: N copies (the in-memory
layer deep-copies each), N receives (the in-memory layer scans every channel
and every group membership on each receive, so a fan-out is quadratic), N
round trips through Redis with channels_redis. The hub joins each group once
per event loop with a channel of its own, receives each broadcast once, and
hands it to the local consumers of the group: the fan-out happens in process,
where it is a loop over a dict.

Consumers with `strict_ordering` do not use it: their broadcasts must wait in
their own channel behind the client messages before them.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["GroupCalls", "GroupHub", "hub_for"]

log = logging.getLogger(__name__)

# channels_redis and Channels' in-memory layer forget a group membership
# `group_expiry` seconds (a day by default) after it was added; a hub lives as
# long as its groups have local members, so it adds itself again well before.
_DEFAULT_GROUP_EXPIRY = 86400.0


class GroupCalls:
    """Channel-layer calls for one group run one after the other.

    channels_redis may run two calls on different connections, so a
    `group_discard` could otherwise land after the `group_add` that followed
    it and undo it.

    Args:
        loop: the event loop the calls run on.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        # Group -> its last call.
        self._last: dict[str, asyncio.Task[None]] = {}

    def start(self, group: str, call: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        """Run `call()` once the calls started before for `group` ended.

        Returns:
            The task running it; its outcome is the caller's.
        """
        task = self._loop.create_task(self._after(self._last.get(group), call))
        self._last[group] = task
        task.add_done_callback(functools.partial(self._forget, group))
        return task

    @staticmethod
    async def _after(
        previous: asyncio.Task[None] | None, call: Callable[[], Awaitable[None]]
    ) -> None:
        if previous is not None and not previous.done():
            # Its outcome is its own caller's business.
            await asyncio.wait([previous])
        await call()

    def _forget(self, group: str, task: asyncio.Task[None]) -> None:
        if self._last.get(group) is task:
            del self._last[group]


class Member(Protocol):
    """A consumer the hub delivers group messages to."""

    def _gqlws_group_message(self, message: dict[str, Any]) -> None: ...


class GroupHub:
    """The group memberships of one event loop on one channel layer.

    Args:
        layer: the channel layer.
        loop: the event loop it serves; the hub is used from there only.
        semaphore: bounds the layer calls in flight (shared with the
            consumers of the loop).
    """

    def __init__(
        self, layer: Any, loop: asyncio.AbstractEventLoop, semaphore: asyncio.Semaphore
    ) -> None:
        self.layer = layer
        self._loop = loop
        self._semaphore = semaphore
        # The channel's name, from the layer's `new_channel()`.
        self._naming: asyncio.Task[str] | None = None
        # Group -> the local consumers in it, in order of joining; each
        # joins once (the consumer counts its own subscriptions). A list is
        # the smallest container, and most groups have one member.
        self._members: dict[str, list[Member]] = {}
        # Group -> its pending `group_add`, which newcomers wait for too.
        self._joins: dict[str, asyncio.Task[None]] = {}
        self._calls = GroupCalls(loop)
        self._reader: asyncio.Task[None] | None = None
        self._refresh: asyncio.TimerHandle | None = None

    @property
    def groups(self) -> list[str]:
        """The groups with local members (joined or joining)."""
        return list(self._members)

    def add(self, group: str, member: Member) -> asyncio.Task[None] | None:
        """Make `member` receive the messages of `group`, from now on.

        Returns:
            The hub's pending `group_add`, to await (shielded: others may
            wait for it too) before counting on the membership; None when
            the hub is in the group already. If it fails, the group is
            dropped for every member, which sees the error when awaiting.
        """
        members = self._members.get(group)
        if members is None:
            members = self._members[group] = []
            self._joins[group] = self._call(self.layer.group_add, group)
            self._start()
        members.append(member)
        return self._joins.get(group)

    async def discard(self, group: str, member: Member) -> None:
        """Stop delivering `group` to `member`; the hub leaves the group with
        its last local member."""
        members = self._members.get(group)
        if members is None or member not in members:
            return
        members.remove(member)
        if members:
            return
        del self._members[group]
        self._joins.pop(group, None)
        # Made before the hub may go idle: it leaves with its current channel.
        leave = self._call(self.layer.group_discard, group)
        self._stop_if_idle()
        await leave

    def _call(
        self, method: Callable[[str, str], Awaitable[None]], group: str
    ) -> asyncio.Task[None]:
        # The channel of the hub as it is now: a discard after the hub went
        # idle is for the channel it had then.
        naming = self._naming_task()

        async def call() -> None:
            channel = await asyncio.shield(naming)
            async with self._semaphore:
                await method(group, channel)

        task = self._calls.start(group, call)
        task.add_done_callback(functools.partial(self._call_done, group))
        return task

    def _call_done(self, group: str, task: asyncio.Task[None]) -> None:
        failed = not task.cancelled() and task.exception() is not None
        if self._joins.get(group) is task:
            del self._joins[group]
            if failed or task.cancelled():
                # The hub is not in the group: nobody here is.
                self._members.pop(group, None)
                self._stop_if_idle()
        if failed:
            # Retrieved here so that a failure nobody awaited is not reported
            # as lost; whoever awaits the call gets the error.
            log.debug("channel layer call for %r failed: %r", group, task.exception())

    def _naming_task(self) -> asyncio.Task[str]:
        naming = self._naming
        if naming is None or (
            naming.done() and (naming.cancelled() or naming.exception() is not None)
        ):
            # (Again, after a failure: the calls waiting on it failed with it.)
            naming = self._naming = self._loop.create_task(self.layer.new_channel())
        return naming

    def _start(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = self._loop.create_task(self._read(self._naming_task()))
        if self._refresh is None:
            self._arm_refresh()

    def _stop_if_idle(self) -> None:
        if self._members:
            return
        # Nothing is lost: a message still on its way is for groups nobody
        # here is in any more. The next members get a new channel: a layer
        # may drop a channel whose receive was cancelled (channels_redis's
        # pub/sub layer does).
        self._naming = None
        if self._reader is not None:
            self._reader.cancel()
            self._reader = None
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None

    def _arm_refresh(self) -> None:
        expiry = getattr(self.layer, "group_expiry", None) or _DEFAULT_GROUP_EXPIRY
        self._refresh = self._loop.call_later(float(expiry) / 4, self._refresh_groups)

    def _refresh_groups(self) -> None:
        self._refresh = None
        if not self._members:
            return
        for group in self._members:
            if group not in self._joins:
                self._call(self.layer.group_add, group)
        self._arm_refresh()

    async def _read(self, naming: asyncio.Task[str]) -> None:
        layer = self.layer
        try:
            channel = await asyncio.shield(naming)
        except Exception:
            # The joins waiting on the same name failed with it and say so.
            return
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("receiving on the channel layer failed; retrying in 1 s")
                await asyncio.sleep(1)
                continue
            members = self._members.get(message.get("group", ""))
            if not members:
                continue
            for member in list(members):
                try:
                    member._gqlws_group_message(message)
                except Exception:
                    log.exception("delivering a group message failed")


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, GroupHub]] = (
    weakref.WeakKeyDictionary()
)


def hub_for(layer: Any, loop: asyncio.AbstractEventLoop, semaphore: asyncio.Semaphore) -> GroupHub:
    """The hub of `loop` on `layer`, made on first use."""
    hubs = _hubs.get(loop)
    if hubs is None:
        hubs = _hubs[loop] = {}
    hub = hubs.get(id(layer))
    # The hub holds the layer, so an id in the table is never a reused one.
    if hub is None or hub.layer is not layer:
        hub = hubs[id(layer)] = GroupHub(layer, loop, semaphore)
    return hub
