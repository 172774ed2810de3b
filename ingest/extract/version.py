"""The page extractor's version, stamped on every article it extracts (``Article.extractor_version``).

Bump it whenever a change alters what the extractor produces from the same page:
`newsflow reprocess --outdated` then re-extracts the archived pages of older articles.
"""

EXTRACTOR_VERSION = "1"
