"""What each Fanvue operation is called in the typed API (``scripts/generate_api.py``).

Names read as English rather than as operationIds: ``api.chats.messages.send(user_uuid, ...)``
for ``sendMessage``. ``NAMES`` gives every operation outside ``/creators/{creatorUserUuid}``
its resource path (dotted, from the API root; ``agency`` is ``/agencies/*``) and method name,
explicitly: path rules alone name too many of them badly (``/chats/lists/custom`` is a custom
list, ``GET /insights/earnings`` a list of earnings). The creator-bound mirrors
(``/creators/{creatorUserUuid}/...``) take the name of the operation they mirror (same method,
same path after the prefix); ``CREATOR_ONLY`` names the few that mirror nothing.

A paginated operation's page-walking companion is ``iterate`` when the page method is ``list``,
else ``iterate_<method>`` (``insights.earnings`` → ``insights.iterate_earnings``).
"""

from __future__ import annotations

CREATOR_PREFIX = "/creators/{creatorUserUuid}"

NAMES: dict[str, tuple[str, str]] = {
    # /agencies/*: the agency's own view
    "listAgencyChats": ("agency", "chats"),
    "createCreatorInvite": ("agency", "invite_creator"),
    "listAgencyEarningsByDay": ("agency", "earnings_by_day"),
    "getChatterLeaderboard": ("agency", "chatter_leaderboard"),
    "createAgencyInvite": ("agency", "invite_member"),
    "listAgencySubscribers": ("agency", "subscribers"),
    "listAgencySubscribersHistory": ("agency", "subscribers_history"),
    "listTeamMembers": ("agency", "team_members"),
    "updateTeamMember": ("agency", "update_team_member"),
    # /apps/{appUuid}
    "getAppSubscriptionStatus": ("apps", "subscription_status"),
    "getAppCurrentUserSubscription": ("apps", "my_subscription"),
    # /chats
    "listChats": ("chats", "list"),
    "createChat": ("chats", "create"),
    "updateChat": ("chats", "update"),
    "getUnreadChatsCount": ("chats", "unread_count"),
    "getBatchStatuses": ("chats", "statuses"),
    "listMedia": ("chats.media", "list"),
    "sendMessage": ("chats.messages", "send"),
    "listMessages": ("chats.messages", "list"),
    "deleteMessage": ("chats.messages", "delete"),
    "getMessageMediaByUuids": ("chats.messages", "media"),
    "messagesBatch": ("chats.messages", "batch"),
    "getCustomLists": ("chats.custom_lists", "list"),
    "createCustomList": ("chats.custom_lists", "create"),
    "deleteCustomList": ("chats.custom_lists", "delete"),
    "getCustomListMembers": ("chats.custom_lists", "members"),
    "updateCustomList": ("chats.custom_lists", "update"),
    "addMembersToCustomList": ("chats.custom_lists", "add_members"),
    "removeMemberFromCustomList": ("chats.custom_lists", "remove_member"),
    "getSmartLists": ("chats.smart_lists", "list"),
    "getSmartListMembers": ("chats.smart_lists", "members"),
    "listMassMessages": ("chats.mass_messages", "list"),
    "sendMassMessage": ("chats.mass_messages", "send"),
    "deleteMassMessage": ("chats.mass_messages", "delete"),
    "updateMassMessage": ("chats.mass_messages", "update"),
    "listTemplateMessages": ("chats.templates", "list"),
    "getTemplateMessage": ("chats.templates", "get"),
    # /collections
    "listCollections": ("collections", "list"),
    "createCollection": ("collections", "create"),
    "deleteCollection": ("collections", "delete"),
    "renameCollection": ("collections", "rename"),
    # /creators (an agency's managed creators)
    "listCreators": ("creators", "list"),
    # /followers
    "listFollowers": ("followers", "list"),
    # /insights
    "getEarnings": ("insights", "earnings"),
    "getEarningsPercentile": ("insights", "earnings_percentile"),
    "getEarningsSummary": ("insights", "earnings_summary"),
    "getBulkFanInsights": ("insights", "fans"),
    "batchFanInsights": ("insights", "fans_batch"),
    "getFanInsights": ("insights", "fan"),
    "getSpending": ("insights", "spending"),
    "getSubscribers": ("insights", "subscribers"),
    "getTopSpenders": ("insights", "top_spenders"),
    # /media
    "getUserMedia": ("media", "list"),
    "getBulkMedia": ("media", "bulk"),
    "getMediaLinkPurchaseStatus": ("media", "link_purchased"),
    "getUserMediaByUuid": ("media", "get"),
    "getEntitledMedia": ("media", "entitled"),
    "grantMedia": ("media", "grant"),
    "createUploadSession": ("media.uploads", "create"),
    "completeUploadSession": ("media.uploads", "complete"),
    "getUploadPartUrl": ("media.uploads", "part_url"),
    # /notifications
    "listNotifications": ("notifications", "list"),
    # /posts
    "getPosts": ("posts", "list"),
    "createPost": ("posts", "create"),
    "deletePost": ("posts", "delete"),
    "getPostByUuid": ("posts", "get"),
    "updatePost": ("posts", "update"),
    "pinPost": ("posts", "pin"),
    "unpinPost": ("posts", "unpin"),
    "repostPost": ("posts", "repost"),
    "getPostLikes": ("posts", "likes"),
    "getPostTips": ("posts", "tips"),
    "getPostComments": ("posts.comments", "list"),
    "createPostComment": ("posts.comments", "create"),
    "deletePostComment": ("posts.comments", "delete"),
    # /subscribers
    "listSubscribers": ("subscribers", "list"),
    # /tracking-links
    "listTrackingLinks": ("tracking_links", "list"),
    "createTrackingLink": ("tracking_links", "create"),
    "deleteTrackingLink": ("tracking_links", "delete"),
    "listTrackingLinkUsers": ("tracking_links", "users"),
    "getUserTrackingMetadata": ("tracking_links", "user_metadata"),
    # /users
    "getCurrentUser": ("users", "me"),
    "getAccount": ("users", "account"),
    # /vault
    "listVaultFolders": ("vault.folders", "list"),
    "createVaultFolder": ("vault.folders", "create"),
    "deleteVaultFolder": ("vault.folders", "delete"),
    "getVaultFolder": ("vault.folders", "get"),
    "renameVaultFolder": ("vault.folders", "rename"),
    "listVaultFolderMedia": ("vault.folders.media", "list"),
    "attachMediaToVaultFolder": ("vault.folders.media", "attach"),
    "detachMediaFromVaultFolder": ("vault.folders.media", "detach"),
}

# Creator-bound operations with no operation of the creator's own to mirror.
CREATOR_ONLY: dict[str, tuple[str, str]] = {
    "getCreatorAccount": ("users", "account"),  # /users/account by meaning
    "getOnlineSubscribers": ("subscribers", "online"),
}


def iterate_name(method: str) -> str:
    """The name of the page-walking companion of the page method ``method``."""
    return "iterate" if method == "list" else f"iterate_{method}"
