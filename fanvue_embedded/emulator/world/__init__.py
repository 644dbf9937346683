"""The API world: each creator's fans, chats, posts, media, insights..., generated on demand.

``Worlds`` holds one ``World`` per creator (built lazily, deterministically from the seed), the
agency relations, app subscriptions and the upload object store. Handlers read and change it;
nothing here knows about HTTP.
"""
