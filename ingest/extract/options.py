"""Which of the extractor's ideas run: all of them, except in the benchmark's ablation.

``newsflow bench extraction --ablation`` switches each idea off alone to show what it is worth
(docs/extraction.md); production always runs ``ExtractOptions()``. The deployment's own choices
(the chrome filter as a whole, the shortest text) are ``ExtractConfig``, not these.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExtractOptions:
    # Match the body's first line against the page's <title>, og:title and h1s too, not only
    # trafilatura's title (``headline.page_headlines``).
    page_headlines: bool = True
    # trafilatura's precision mode on a body that is mostly a layout table.
    second_opinion: bool = True
    # readability's reading of the page confirms the text's last lines (``line_filters.unconfirmed_tail``).
    tail_check: bool = True
    # Put back the lead trafilatura skipped (``headline.shown_lead``).
    lead: bool = True
    # Lines whose source element has a non-article role (``line_filters.RoleBoxes``).
    role_boxes: bool = True
    # Lines inside the small box around an email field or a text area: a sign-up or comment form
    # (``line_filters.form_boxes``).
    form_boxes: bool = True
    # Image credits, advertising labels, datelines (``line_filters.strip_credits``).
    credits: bool = True
    # The unmistakable chrome inside the text, and closing calls to action (``chrome.strip_chrome``).
    inner_chrome: bool = True
    calls_to_action: bool = True
    # Labels, continuation markers, player, consent, share and comment-form lines, and sign-up,
    # follow, paywall and affiliate prompts between paragraphs (``chrome.inner_chrome_line``).
    inner_lines: bool = True
    # readability's reading checks trafilatura's choice of container (``container.check_container``).
    container_check: bool = True
