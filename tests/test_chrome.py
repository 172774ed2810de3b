"""The chrome filter: chrome lines go, article sentences stay, inside the text only the unmistakable kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.ingest.extract.chrome import chrome_category, strip_chrome
from newsflow.ingest.extract.line_filters import lines_in_boxes, strip_credits, unconfirmed_tail

ROOT = Path(__file__).resolve().parent.parent
BODY = (
    "The talks in Geneva ended without agreement on Monday, officials said.\n\n"
    "Both delegations said they would meet again next week."
)


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ("Post a Comment", "comments"),
        ("Leave a comment", "comments"),
        ("0 comments", "comments"),
        ("12 Comments", "comments"),
        ("Comments are closed.", "comments"),
        ("Add comment", "comments"),
        ("No comments:", "comments"),
        ("Previous Post Next Post", "pager"),
        ("Older Post Newer Post Home", "pager"),
        ("« Previous", "pager"),
        ("Next article »", "pager"),
        ("Share:", "share"),
        ("Share this", "share"),
        ("Share: Facebook Twitter WhatsApp Telegram", "share"),
        ("Email ThisBlogThis!Share to TwitterShare to FacebookShare to Pinterest", "share"),
        ("Subscribe to our newsletter", "subscribe"),
        ("Sign up for our newsletter", "subscribe"),
        ("Subscribe to: Post Comments (Atom)", "subscribe"),
        ("Related posts", "related"),
        ("Read more", "related"),
        ("You may also like", "related"),
        ("Tags: NATO, Russia, Ukraine", "tags"),
        ("Labels: Europe, Weather", "tags"),
        ("Filed under World", "tags"),
        ("Copyright © 2022 Example News. All rights reserved. Powered by Blogger.", "copyright"),
        ("© 2019 Associated Press", "copyright"),
        ("All rights reserved", "footer"),
        ("Powered by Blogger", "footer"),
        ("Advertisement", "advert"),
        ("Home › World", "breadcrumb"),
        # the same classes in other languages
        ("Kommentar veröffentlichen", "comments"),
        ("Neuerer Post Älterer Post Startseite", "pager"),
        ("Publier un commentaire", "comments"),
        ("Article plus récent Article plus ancien Accueil", "pager"),
        ("Publicar un comentario", "comments"),
        ("Entrada más reciente Entrada antigua Página principal", "pager"),
        ("Articolo precedente", "pager"),
        ("Postagem mais recente Postagem mais antiga Página inicial", "pager"),
        ("Een reactie posten", "comments"),
        ("Предыдущая запись", "pager"),
        ("Отправить комментарий", "comments"),
        ("Dela:", "share"),
        ("Etiquetas: política, economía", "tags"),
        ("Anzeige", "advert"),
        ("Alle Rechte vorbehalten", "footer"),
    ],
)
def test_chrome_line_at_the_end_is_removed(line: str, category: str) -> None:
    result = strip_chrome(f"{BODY}\n\n{line}")
    assert result.text == BODY
    assert [(r.line, r.category, r.edge) for r in result.removed] == [(line, category, "tail")]


@pytest.mark.parametrize(
    "last",
    [
        "Share prices rose 3% on Monday.",
        "Shares fell 2% in early trading.",
        "Next week the ministers meet again in Brussels.",
        "Next year's budget is due in March.",
        "Comments from the minister were sharply criticised by the opposition.",
        "The company declined to comment.",
        "He did not respond to a request for comment.",
        "Previous talks ended in 2021.",
        "Home prices fell for the third month.",
        "Copyright law in the EU changed on Monday.",
        "Posted in 2019, the video went viral.",
        "Read the full report on the ministry's website.",
        "Related talks are planned in Vienna.",
        "Subscribers will pay more from April.",
        "Tagsüber regnete es in ganz Bayern.",
        "Sharing the burden is the aim, she said.",
        "Advertisement spending rose 4% last year, the survey found.",
    ],
)
def test_article_sentence_at_the_end_survives(last: str) -> None:
    text = f"{BODY}\n\n{last}"
    result = strip_chrome(text)
    assert result.text == text
    assert result.removed == []
    assert chrome_category(last) is None


def test_chrome_block_is_stripped_repeatedly_from_the_end() -> None:
    tail = "Tags: NATO, Russia\n\nShare:\nFacebook\nTwitter\n\nPost a Comment\n\nPrevious Post Next Post"
    result = strip_chrome(f"{BODY}\n\n{tail}")
    assert result.text == BODY
    assert [r.line for r in result.removed] == [
        "Previous Post Next Post", "Post a Comment", "Twitter", "Facebook", "Share:", "Tags: NATO, Russia",
    ]


def test_chrome_at_the_start_is_removed() -> None:
    result = strip_chrome(f"Advertisement\n\nHome › World\n\nShare:\n\n{BODY}")
    assert result.text == BODY
    assert [(r.category, r.edge) for r in result.removed] == [("advert", "head"), ("breadcrumb", "head"), ("share", "head")]


def test_chrome_like_lines_in_the_middle_are_kept() -> None:
    # a bare related label or a section heading between paragraphs may be the article's own
    for label in ("Read more", "Comments"):
        text = f"First paragraph of the story, long enough to be one.\n\n{label}\n\n{BODY}"
        assert strip_chrome(text).text == text


@pytest.mark.parametrize(
    "line",
    [
        "Share:", "Teilen auf Facebook", "Partager sur Twitter | Imprimer", "Compartir en WhatsApp",
        "Advertisement", "Anzeige", "Publicité", "Publicidad", "- Advertisement -",
        "Continue reading below", "Story continues below advertisement", "Lesen Sie weiter nach der Anzeige",
        "La suite après cette publicité", "Sigue leyendo debajo", "La noticia continúa tras la publicidad",
        "Now Playing", "Play Video", "Current Time 0:00 / Duration 2:34", "Vollbild", "Plein écran", "Pantalla completa",
        "Accept all cookies", "Alle akzeptieren", "Tout accepter", "Aceptar todo",
        "Your email address will not be published.", "Ihre E-Mail-Adresse wird nicht veröffentlicht.",
        "Votre adresse e-mail ne sera pas publiée.", "Tu dirección de correo electrónico no será publicada.",
        "Sign up for our daily newsletter", "Enter your email", "Melden Sie sich für unseren Newsletter an",
        "Inscrivez-vous à notre newsletter", "Suscríbete a nuestro boletín", "By signing up, you agree to our Terms of Use.",
    ],
)
def test_labels_markers_and_buttons_between_paragraphs_go(line: str) -> None:
    head = "First paragraph of the story, long enough to be one."
    result = strip_chrome(f"{head}\n\n{line}\n\n{BODY}")
    assert result.text == f"{head}\n\n{BODY}"
    assert [r.edge for r in result.removed] == ["inner"]


@pytest.mark.parametrize(
    "line",
    [
        "Share prices rose 3% on Monday.", "Advertisement revenue fell by a third in the quarter, the company said.",
        "Play resumed after a short rain delay.", "Live updates will follow here as the vote is counted.",
        "Sign up for the vaccine at your local pharmacy, the ministry said.", "Accept the result, the coach told his players.",
        "Continue reading the report and you find a different picture.", "Lesen Sie weiter, was der Minister sagte, und urteilen Sie selbst.",
    ],
)
def test_sentences_that_start_like_chrome_stay_between_paragraphs(line: str) -> None:
    text = f"First paragraph of the story, long enough to be one.\n\n{line}\n\n{BODY}"
    assert strip_chrome(text).text == text


def test_trailing_related_section_goes_as_one_block() -> None:
    related = (
        "Related Posts\n"
        "Electricity Prices Climb to New Winter High as Cold Snap Continues\nJanuary 11, 2022\n"
        "Heavy Snowfall Disrupts Rail and Road Traffic in the North\nJanuary 9, 2022"
    )
    result = strip_chrome(f"{BODY}\n\n{related}\n\nPost a Comment")
    assert result.text == BODY
    assert {r.category for r in result.removed} == {"related", "comments"}
    assert len(result.removed) == 6


def test_short_lines_at_the_end_without_a_heading_stay() -> None:
    # A list ending an article (ingredients, results) is not chrome just for being short.
    text = f"{BODY}\n\nThe results:\nSweden 3\nNorway 2\nFinland 1"
    assert strip_chrome(text).text == text


def test_a_heading_before_a_real_paragraph_is_not_a_trailing_section() -> None:
    text = (
        f"{BODY}\n\nComments\n\nThe minister's comments drew criticism from all opposition parties, which said "
        "that the government had failed to consult parliament before the talks began in Geneva."
    )
    assert strip_chrome(text).text == text


def test_inner_layout_is_untouched() -> None:
    text = "Para one line one\nline two\n\n\nPara two\n\n- item\n- item"
    assert strip_chrome(f"\n{text}\n\nPost a Comment\n").text == text


def test_all_chrome_gives_empty_text() -> None:
    result = strip_chrome("Share:\n\nPost a Comment\n\nPrevious Post Next Post")
    assert result.text == ""
    assert len(result.removed) == 3


def test_long_lines_are_never_chrome() -> None:
    line = "Share " * 60
    assert chrome_category(line) is None


def test_seed_scrape_tail() -> None:
    seed = (ROOT / "seeds" / "us-russia-talks.txt").read_text(encoding="utf-8")
    result = strip_chrome(seed)
    assert [(r.line, r.category) for r in result.removed] == [
        ("Previous Post Next Post", "pager"), ("Post a Comment", "comments"),
    ]
    assert result.text.endswith("has called for talks with all parliamentary party leaders.")


# --- inside the text: only the unmistakable kinds --------------------------------------------


def test_read_more_headline_lines_inside_the_text_go() -> None:
    text = f"{BODY}\n\nREAD MORE: China plague outbreak confirmed in Beijing\n\n{BODY}"
    result = strip_chrome(text)
    assert result.text == f"{BODY}\n\n{BODY}"
    assert result.removed == [("READ MORE: China plague outbreak confirmed in Beijing", "related", "inner")]


def test_spanish_mira_labels_a_related_headline() -> None:
    for label in ("MIRA:", "Mire:", "Mira también:"):
        line = f"{label} Madre se acerca a conocer los motivos de captura de su hijo"
        assert strip_chrome(f"{BODY}\n\n{line}\n\n{BODY}").text == f"{BODY}\n\n{BODY}"
    # Without the colon it is a verb opening a sentence.
    text = f"{BODY}\n\nMira a su alrededor y verá que nada ha cambiado en el barrio.\n\n{BODY}"
    assert strip_chrome(text).text == text


def test_a_sentence_after_a_read_more_label_stays() -> None:
    text = f"{BODY}\n\nRead more: the council published its full report on Monday.\n\n{BODY}"
    assert strip_chrome(text).text == text


def test_a_related_box_inside_the_text_goes() -> None:
    box = "DON'T MISS\nChina furious at Macron for protest jibe [INSIGHT]\nNBA makes final decision on game [VIDEO]"
    result = strip_chrome(f"{BODY}\n\n{box}\n\nThe talks resumed on Tuesday, officials said.")
    assert result.text == f"{BODY}\n\nThe talks resumed on Tuesday, officials said."
    assert [r.edge for r in result.removed] == ["inner"] * 3


def test_leaked_markup_goes_anywhere() -> None:
    text = f"{BODY}\n\n[button link=\"https://x.example/\" type=\"big\"]Send us your review[/button]\n\n2019-11-19T08:57:40+01:00\n\n{BODY}"
    assert strip_chrome(text).text == f"{BODY}\n\n{BODY}"


def test_closing_calls_to_action_go() -> None:
    tail = "Follow Newsbeat on Instagram, Facebook, Twitter and YouTube.\n\nSubscribe to the Morning Review newsletter"
    result = strip_chrome(f"{BODY}\n\n{tail}")
    assert result.text == BODY
    assert {r.category for r in result.removed} == {"subscribe"}
    follow = "Follow Newsbeat on Instagram, Facebook, Twitter and YouTube."
    assert strip_chrome(f"{BODY}\n\n{follow}", calls_to_action=False).text == f"{BODY}\n\n{follow}"


@pytest.mark.parametrize("line", [
    "¿Ya sabías que en Guatemala.com tenemos canal de Telegram? Únete desde tu celular en este enlace de invitación.",
    "¡Mira lo que tiene nuestro canal de YouTube!",
    "Join our channel on WhatsApp for the day's top stories.",
])
def test_closing_promos_for_a_messaging_or_video_channel_go(line: str) -> None:
    assert strip_chrome(f"{BODY}\n\n{line}").text == BODY


def test_a_follow_prompt_inside_the_text_goes_and_a_sentence_naming_twitter_stays() -> None:
    text = f"{BODY}\n\nFollow us on Twitter for updates on the talks.\n\n{BODY}"
    assert strip_chrome(text).text == f"{BODY}\n\n{BODY}"
    assert strip_chrome(text, calls_to_action=False).text == text
    said = f"{BODY}\n\nThe minister said on Twitter that the talks had failed.\n\n{BODY}"
    assert strip_chrome(said).text == said


PARAS = [
    "The talks in Geneva ended without agreement on Monday, officials from both sides said.",
    "Both delegations said they would meet again next week to discuss the remaining issues.",
    "Analysts expect the next round to focus on arms control and the security of borders.",
]


def test_a_second_copy_of_the_article_at_the_end_goes_with_the_lines_before_it() -> None:
    article = "\n\n".join(PARAS)
    copy = "\n".join(["Talks end without agreement", "2019-11-19 08:57", "https://example.org/logo.png", *PARAS])
    result = strip_chrome(f"{article}\n\n{copy}")
    assert result.text == article
    assert {r.category for r in result.removed} == {"duplicate"}


def test_repeated_paragraphs_with_new_text_after_them_stay() -> None:
    # A meal plan or a refrain repeats paragraphs, then goes on with new text: no copy.
    text = "\n\n".join([*PARAS, PARAS[0], PARAS[1], PARAS[2], "A last paragraph that only appears once in the whole text."])
    assert strip_chrome(text).text == text


def test_a_paragraph_repeated_in_a_row_keeps_everything_after_it() -> None:
    # A refrain said several times in a row ends the article: nothing is a second copy.
    refrain = "We shall not be moved, they sang again and again outside the parliament building."
    text = "\n\n".join([PARAS[0], refrain, refrain, refrain, refrain])
    assert strip_chrome(text).text == text


def test_repeated_update_lines_between_paragraphs_stay() -> None:
    update = "Update: this story has been updated with a statement from the ministry of defence."
    text = "\n\n".join([PARAS[0], update, PARAS[1], update, update, update, PARAS[2]])
    assert strip_chrome(text).text == text
    ending = "\n\n".join([PARAS[0], PARAS[1], update, update, update])
    assert strip_chrome(ending).text == ending


def test_a_second_copy_after_a_repeated_quote_still_goes() -> None:
    quote = "\u201cWe will not give up,\u201d the minister said, and repeated it twice to the reporters there."
    article = "\n\n".join([PARAS[0], quote, quote, PARAS[1], PARAS[2]])
    copy = "\n".join(["Talks end without agreement", PARAS[0], quote, PARAS[1], PARAS[2]])
    result = strip_chrome(f"{article}\n\n{copy}")
    assert result.text == article


def test_two_copies_after_the_article_both_go() -> None:
    article = "\n\n".join(PARAS)
    copy = "\n".join(["Talks end without agreement", "https://example.org/logo.png", *PARAS])
    assert strip_chrome(f"{article}\n\n{copy}\n{copy}").text == article


def test_a_copy_out_of_order_is_no_copy() -> None:
    # the same paragraphs again, in another order: a summary or a recap list, kept
    text = "\n\n".join([*PARAS, PARAS[2], PARAS[0], PARAS[1]])
    assert strip_chrome(text).text == text


# --- the second opinion's tail check ---------------------------------------------------

PROMO = "Get our briefing by email"


def test_a_tail_the_second_extractor_lacks_goes() -> None:
    text = BODY + "\n\n" + PROMO
    other = "The talks in Geneva ended without agreement on Monday, officials said. Both delegations said they would meet again next week."
    result = unconfirmed_tail(text, other)
    assert result.text == BODY
    assert [(r.line, r.category, r.edge) for r in result.removed] == [(PROMO, "unconfirmed", "tail")]


def test_the_tail_check_compares_words_not_line_breaks() -> None:
    text = BODY + "\n\nThe next round is set for March."
    other = "The talks in Geneva ended\nwithout agreement on Monday, officials said.\nBoth delegations said they would meet again next week. The next round is set for March."
    assert unconfirmed_tail(text, other).text == text


def test_a_second_opinion_that_read_another_block_is_not_asked() -> None:
    # the other extractor holds too little of the text: it read something else, and its
    # silence about the last line says nothing
    text = BODY + "\n\n" + PROMO
    assert unconfirmed_tail(text, "Both delegations said they would meet again next week.").text == text


def test_a_long_unconfirmed_tail_stays() -> None:
    # more than a closing box: the extractors disagree on the article itself
    steps = "\n\n".join(f"Step {i}: stir the sauce for another two minutes over a low heat." for i in range(6))
    text = BODY + "\n\n" + steps
    assert unconfirmed_tail(text, BODY).text == text


def test_a_head_the_second_extractor_lacks_stays() -> None:
    text = "A lead paragraph the other extractor skipped.\n\n" + BODY
    assert unconfirmed_tail(text, BODY).text == text


@pytest.mark.parametrize("line", [
    "Foto: dpa", "Crédits photos : Bestimage", "Quelle: Landesregierung", "(Bild: Dieter Stork)",
    "© Bundesrat | Frank Bräuer", "ANZEIGE - Heute mal ausgehen?", "*Werbung. Dieser Beitrag enthält Werbung.",
    "23.10.2018", "January 13, 2020 at 08:45 AM", "2. Februar 2022",
])
def test_credits_advertising_labels_and_datelines_go_anywhere(line: str) -> None:
    text = f"First paragraph of the article.\n\n{line}\n\nSecond paragraph of the article."
    result = strip_credits(text)
    assert result.text == "First paragraph of the article.\n\nSecond paragraph of the article."
    assert [r.category for r in result.removed] == ["credit"]


@pytest.mark.parametrize("line", [
    "Werbung nervt. Tracking nervt.", "Source code is the documentation here.", "In 2020 the plant closed.",
    "12 Monkeys 1995", "Photographers: a profession in crisis, and why it matters for all of us today and tomorrow "
    "and for a long time after that, as the industry keeps shrinking.",
])
def test_lines_that_only_start_like_a_credit_stay(line: str) -> None:
    assert strip_credits(f"Intro.\n\n{line}").text == f"Intro.\n\n{line}"


def test_lines_inside_a_role_box_go() -> None:
    text = "The article's first line.\n\nGet our daily edition by email and never miss a story.\n\nSign up\n\nThe end."
    boxes = ["Get our daily edition by email and never miss a story.", "Sign up"]
    result = lines_in_boxes(text, boxes)
    assert result.text == "The article's first line.\n\nThe end."
    assert [r.category for r in result.removed] == ["box", "box"]


def test_a_short_line_that_is_a_small_part_of_a_role_box_stays() -> None:
    # Two words can sit inside any box by chance; they go only when they are most of it.
    box = "The end of our newsletter: all the news of the week in your inbox, every Friday."
    assert lines_in_boxes("Text.\n\nThe end.", [box]).text == "Text.\n\nThe end."
