"""Which handler serves each Fanvue operation (by operationId); mirrors share the self handler.

``/creators/{creatorUserUuid}/X`` runs the same handler as ``/X``: the dispatcher has already
pointed the call at the managed creator's world.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fanvue_embedded.spec import load_spec

from . import h_chats, h_people
from .call import Call

Handler = Callable[[Call], Any]

_TABLE: dict[str, Handler] = {
    # profiles and fans
    "getCurrentUser": h_people.get_current_user,
    "getAccount": h_people.get_account,
    "getCreatorAccount": h_people.get_account,
    "listFollowers": h_people.list_followers,
    "listCreatorFollowers": h_people.list_followers,
    "listSubscribers": h_people.list_subscribers,
    "listCreatorSubscribers": h_people.list_subscribers,
    "getOnlineSubscribers": h_people.online_subscribers,
    "getBatchStatuses": h_people.batch_statuses,
    "listCreators": h_people.list_creators,
    # chats
    "listChats": h_chats.list_chats,
    "listCreatorChats": h_chats.list_chats,
    "createChat": h_chats.create_chat,
    "createCreatorChat": h_chats.create_chat,
    "updateChat": h_chats.update_chat,
    "updateCreatorChat": h_chats.update_chat,
    "listMessages": h_chats.list_messages,
    "listCreatorMessages": h_chats.list_messages,
    "getUnreadChatsCount": h_chats.unread_counts,
}


def _placeholder(call: Call) -> Any:
    """Spec-shaped generated data for operations without a world handler yet."""
    operation = call.operation
    if operation.pagination is not None:
        return call.listing([])
    if operation.response.status == 204:
        return None
    if operation.response.body_type is not None:
        return "https://uploads.emulator.test/" if operation.response.content_type else []
    return call.shape({}, operation.operation_id)


HANDLERS: dict[str, Handler] = {
    operation.operation_id: _TABLE.get(operation.operation_id, _placeholder)
    for operation in load_spec()
}
