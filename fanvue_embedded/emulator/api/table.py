"""Which handler serves each Fanvue operation (by operationId); mirrors share the self handler.

``/creators/{creatorUserUuid}/X`` runs the same handler as ``/X``: the dispatcher has already
pointed the call at the managed creator's world. Importing this module fails if any operation
of the spec has no handler, or a handler names an operation the spec does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fanvue_embedded.spec import load_spec

from . import (
    h_agency,
    h_chats,
    h_insights,
    h_links,
    h_lists,
    h_media,
    h_messages,
    h_people,
    h_posts,
    h_uploads,
)
from .call import Call

Handler = Callable[[Call], Any]

# operationId of the caller's own route, its /creators/{uuid}/ mirror (or None), handler.
_ROWS: list[tuple[str, str | None, Handler]] = [
    # profiles, fans, creators
    ("getCurrentUser", None, h_people.get_current_user),
    ("getAccount", "getCreatorAccount", h_people.get_account),
    ("listFollowers", "listCreatorFollowers", h_people.list_followers),
    ("listSubscribers", "listCreatorSubscribers", h_people.list_subscribers),
    ("getOnlineSubscribers", None, h_people.online_subscribers),
    ("getBatchStatuses", None, h_people.batch_statuses),
    ("listCreators", None, h_people.list_creators),
    # chats and messages
    ("listChats", "listCreatorChats", h_chats.list_chats),
    ("createChat", "createCreatorChat", h_chats.create_chat),
    ("updateChat", "updateCreatorChat", h_chats.update_chat),
    ("listMessages", "listCreatorMessages", h_chats.list_messages),
    ("getUnreadChatsCount", None, h_chats.unread_counts),
    ("sendMessage", "sendCreatorMessage", h_messages.send_message),
    ("deleteMessage", None, h_messages.delete_message),
    ("messagesBatch", None, h_messages.messages_batch),
    ("listMedia", "listCreatorChatMedia", h_messages.chat_media),
    ("getMessageMediaByUuids", "getCreatorMessageMediaByUuids", h_messages.message_media),
    # lists, templates, mass messages
    ("getCustomLists", "getCreatorCustomLists", h_lists.list_custom_lists),
    ("createCustomList", None, h_lists.create_custom_list),
    ("updateCustomList", None, h_lists.rename_custom_list),
    ("deleteCustomList", None, h_lists.delete_custom_list),
    ("getCustomListMembers", "getCreatorCustomListMembers", h_lists.custom_list_members),
    ("addMembersToCustomList", None, h_lists.add_custom_list_members),
    ("removeMemberFromCustomList", None, h_lists.remove_custom_list_member),
    ("getSmartLists", "getCreatorSmartLists", h_lists.smart_lists),
    ("getSmartListMembers", "getCreatorSmartListMembers", h_lists.smart_list_members),
    ("listTemplateMessages", None, h_lists.list_templates),
    ("getTemplateMessage", None, h_lists.get_template),
    ("listMassMessages", "listCreatorMassMessages", h_lists.list_mass_messages),
    ("sendMassMessage", "sendCreatorMassMessage", h_lists.send_mass_message),
    ("updateMassMessage", "updateCreatorMassMessage", h_lists.update_mass_message),
    ("deleteMassMessage", "deleteCreatorMassMessage", h_lists.delete_mass_message),
    # posts and collections
    ("getPosts", "getCreatorPosts", h_posts.list_posts),
    ("getPostByUuid", None, h_posts.get_post),
    ("createPost", "createCreatorPost", h_posts.create_post),
    ("updatePost", "updateCreatorPost", h_posts.update_post),
    ("deletePost", "deleteCreatorPost", h_posts.delete_post),
    ("pinPost", "pinCreatorPost", h_posts.pin_post),
    ("unpinPost", "unpinCreatorPost", h_posts.unpin_post),
    ("repostPost", "repostCreatorPost", h_posts.repost),
    ("getPostComments", "getCreatorPostComments", h_posts.list_comments),
    ("createPostComment", "createCreatorPostComment", h_posts.create_comment),
    ("deletePostComment", "deleteCreatorPostComment", h_posts.delete_comment),
    ("getPostLikes", None, h_posts.list_likes),
    ("getPostTips", None, h_posts.list_tips),
    ("listCollections", None, h_posts.list_collections),
    ("createCollection", None, h_posts.create_collection),
    ("renameCollection", None, h_posts.rename_collection),
    ("deleteCollection", None, h_posts.delete_collection),
    # media, uploads, vault
    ("getUserMedia", "getCreatorMedia", h_media.list_media),
    ("getUserMediaByUuid", "getCreatorMediaByUuid", h_media.get_media),
    ("getBulkMedia", None, h_media.bulk_media),
    ("getMediaLinkPurchaseStatus", None, h_media.media_link_purchased),
    ("grantMedia", None, h_media.grant_media),
    ("getEntitledMedia", None, h_media.entitled_media),
    ("createUploadSession", "createCreatorUploadSession", h_uploads.create_upload),
    ("getUploadPartUrl", "getCreatorUploadPartUrl", h_uploads.part_url),
    ("completeUploadSession", "completeCreatorUploadSession", h_uploads.complete_upload),
    ("listVaultFolders", "listCreatorVaultFolders", h_media.list_folders),
    ("getVaultFolder", "getCreatorVaultFolder", h_media.get_folder),
    ("createVaultFolder", "createCreatorVaultFolder", h_media.create_folder),
    ("renameVaultFolder", "renameCreatorVaultFolder", h_media.rename_folder),
    ("deleteVaultFolder", "deleteCreatorVaultFolder", h_media.delete_folder),
    ("listVaultFolderMedia", "listCreatorVaultFolderMedia", h_media.folder_media),
    ("attachMediaToVaultFolder", "attachCreatorVaultMedia", h_media.attach_media),
    ("detachMediaFromVaultFolder", "detachCreatorVaultMedia", h_media.detach_media),
    # insights
    ("getEarnings", "getCreatorEarnings", h_insights.earnings),
    ("getEarningsSummary", "getCreatorEarningsSummary", h_insights.earnings_summary),
    ("getEarningsPercentile", None, h_insights.percentile),
    ("getSpending", None, h_insights.spending),
    ("getSubscribers", "getCreatorSubscribers", h_insights.subscribers),
    ("getTopSpenders", "getCreatorTopSpenders", h_insights.top_spenders),
    ("getFanInsights", None, h_insights.get_fan_insights),
    ("getBulkFanInsights", None, h_insights.bulk_fan_insights),
    ("batchFanInsights", None, h_insights.batch_fan_insights),
    # tracking links, notifications
    ("listTrackingLinks", "listCreatorTrackingLinks", h_links.list_links),
    ("createTrackingLink", "createCreatorTrackingLink", h_links.create_link),
    ("deleteTrackingLink", "deleteCreatorTrackingLink", h_links.delete_link),
    ("listTrackingLinkUsers", "listCreatorTrackingLinkUsers", h_links.link_users),
    ("getUserTrackingMetadata", "getCreatorUserTrackingMetadata", h_links.user_metadata),
    ("listNotifications", "listCreatorNotifications", h_links.list_notifications),
    # agencies and apps
    ("listAgencyChats", None, h_agency.agency_chats),
    ("listAgencyEarningsByDay", None, h_agency.agency_earnings),
    ("listAgencySubscribers", None, h_agency.agency_subscribers),
    ("listAgencySubscribersHistory", None, h_agency.agency_subscriber_history),
    ("getChatterLeaderboard", None, h_agency.chatter_leaderboard),
    ("listTeamMembers", None, h_agency.team_members),
    ("updateTeamMember", None, h_agency.update_team_member),
    ("createAgencyInvite", None, h_agency.invite),
    ("createCreatorInvite", None, h_agency.invite),
    ("getAppCurrentUserSubscription", None, h_agency.app_subscription_me),
    ("getAppSubscriptionStatus", None, h_agency.app_subscription_status),
]


def _build() -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for own, mirror, handler in _ROWS:
        for operation_id in (own, mirror):
            if operation_id is not None:
                table[operation_id] = handler
    served = {operation.operation_id for operation in load_spec()}
    missing, unknown = sorted(served - table.keys()), sorted(table.keys() - served)
    if missing or unknown:
        raise RuntimeError(f"handler table out of step with the spec: {missing=} {unknown=}")
    return table


HANDLERS: dict[str, Handler] = _build()
