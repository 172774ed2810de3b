"""Remove page chrome that survives trafilatura in an article's text.

Themes put comment prompts, pagers, share bars, tag lists, "related posts" and copyright
lines right before or after the body, sometimes inside it, and trafilatura keeps them when
they are marked up like paragraphs. At the *edges* of the text this filter removes a line
when the whole line is chrome:

* a **phrase line** is made entirely of known chrome phrases and separators
  ("Post a Comment", "Previous Post Next Post", "Share: Facebook Twitter", "0 comments");
* a **prefix line** starts with a chrome label and is short ("Tags: NATO, Russia",
  "Copyright © 2022 Example News. All rights reserved.", "Subscribe to our newsletter");
* at the end only, a **call to action** (a short line naming a newsletter, a sign-up, an
  app or a social channel: "Follow Newsbeat on Instagram and YouTube.");
* at the end only, a **trailing section**: a heading such as "Related Posts" or "Comments"
  (or a call to action) followed by nothing but a few short lines (titles and dates).

*Inside* the text only four kinds go, each unmistakable on its own: a "Read more:
<headline>" line (a related-story label with a colon, then a short title), a related box
(a "Don't miss" heading, a few headline-like lines, then the article again), markup that
leaked as text (a CMS shortcode, a bare ISO timestamp), and a second copy of the article
glued after it (structured data rendered as text).

Anything else stops the stripping, so an article sentence that merely contains "comment",
"share" or "next" ("Share prices rose 3% on Monday.") is never touched. The vocabulary is
data (``PHRASES``, ``PREFIXES``), by category and language; ``strip_chrome`` is the one
function. Measured on real pages by `newsflow bench extraction` (docs/extraction.md).
"""

from __future__ import annotations

import re
from typing import Callable, Literal, NamedTuple

Edge = Literal["head", "tail", "inner"]

# Chrome phrases by category, then language. Regex fragments, matched case-insensitively;
# a space matches any run of whitespace (" ?" an optional one). A line is chrome when it is a sequence of these.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "comments": {
        "en": (
            r"post a comment", r"post comments?", r"leave a (?:comment|reply)", r"add (?:a )?comment",
            r"write a comment", r"comments are closed", r"comments? closed", r"no comments?",
            r"\d+ comments?", r"comments? \(\d+\)", r"comments?", r"show comments", r"view comments",
            r"load comments", r"join the (?:conversation|discussion)", r"cancel reply", r"reply",
            r"your email address will not be published", r"required fields are marked \*?",
            r"save my name, email, and website in this browser for the next time i comment",
            r"(?:tell|let) us (?:know )?what you think", r"what do you think",
        ),
        "de": (r"kommentar veröffentlichen", r"kommentar schreiben", r"keine kommentare", r"\d+ kommentare?",
               r"kommentare?", r"kommentieren", r"antworten"),
        "fr": (r"publier un commentaire", r"laisser un commentaire", r"ajouter un commentaire",
               r"aucun commentaire", r"\d+ commentaires?", r"commentaires?", r"répondre"),
        "es": (r"publicar un comentario", r"deja(?:r)? un comentario", r"no hay comentarios",
               r"\d+ comentarios?", r"comentarios?", r"responder"),
        "it": (r"posta un commento", r"lascia un commento", r"nessun commento", r"\d+ commenti",
               r"commenti", r"commento", r"rispondi"),
        "pt": (r"postar um comentário", r"deixe um comentário", r"nenhum comentário", r"\d+ comentários?",
               r"comentários?", r"responder"),
        "nl": (r"een reactie posten", r"laat een reactie achter", r"geen opmerkingen", r"geen reacties",
               r"\d+ reacties?", r"reacties", r"reageer", r"reageren"),
        "ru": (r"отправить комментарий", r"оставить комментарий", r"добавить комментарий",
               r"комментариев нет", r"нет комментариев", r"\d+ комментари(?:й|я|ев)", r"комментарии", r"ответить"),
        "sv": (r"skicka en kommentar", r"lämna en kommentar", r"inga kommentarer", r"\d+ kommentarer",
               r"kommentarer", r"kommentera", r"svara"),
    },
    "pager": {
        "en": (
            r"(?:previous|prev|next|older|newer) (?:post|article|story|entry|page)s?", r"previous", r"prev",
            r"next", r"older", r"newer", r"home", r"back to top", r"go to top",
        ),
        "de": (r"(?:neuerer|älterer|nächster|vorheriger) (?:post|beitrag|artikel)", r"nächste seite",
               r"vorherige seite", r"startseite", r"zurück", r"weiter", r"nach oben"),
        "fr": (r"article (?:plus récent|plus ancien|suivant|précédent)", r"(?:message|billet) (?:plus récent|plus ancien|suivant|précédent)",
               r"page suivante", r"page précédente", r"précédent", r"suivant", r"accueil", r"retour en haut"),
        "es": (r"entrada (?:más reciente|más antigua|antigua|anterior|siguiente)", r"artículo (?:anterior|siguiente)",
               r"página principal", r"anterior", r"siguiente", r"inicio", r"volver arriba"),
        "it": (r"post più (?:recente|vecchio)", r"articolo (?:precedente|successivo)", r"home ?page",
               r"precedente", r"successivo", r"torna su"),
        "pt": (r"postagem mais (?:recente|antiga)", r"(?:artigo|post) (?:anterior|seguinte)", r"página inicial",
               r"próximo", r"voltar ao topo"),
        "nl": (r"(?:nieuwere|oudere) post", r"(?:vorig|volgend) (?:artikel|bericht)", r"homepage",
               r"vorige", r"volgende", r"terug naar boven"),
        "ru": (r"(?:новое|старое|следующее|предыдущее) сообщение", r"(?:предыдущая|следующая) (?:запись|статья)",
               r"главная(?: страница)?", r"назад", r"далее", r"наверх"),
        "sv": (r"(?:senare|äldre|nästa|föregående) inlägg", r"(?:nästa|föregående) artikel", r"startsida", r"till toppen"),
    },
    "share": {
        "en": (
            r"share(?: this(?: (?:article|story|post|page))?)?", r"share (?:on|to|via) \w+", r"tweet", r"email this",
            r"blogthis!", r"print(?: this)?", r"copy link", r"facebook", r"twitter", r"whatsapp", r"telegram",
            r"linkedin", r"pinterest", r"reddit", r"tumblr", r"e-?mail", r"messenger", r"flipboard",
            r"pocket", r"xing", r"vk", r"mastodon", r"bluesky", r"threads", r"sms", r"like this:?", r"like",
            r"loading\.*", r"show more",
        ),
        "de": (r"teilen", r"artikel teilen", r"drucken", r"link kopieren"),
        "fr": (r"partager(?: cet article| sur \w+)?", r"imprimer"),
        "es": (r"compartir(?: en \w+)?", r"comparte", r"imprimir"),
        "it": (r"condividi(?: su \w+)?", r"stampa"),
        "pt": (r"compartilhe", r"compartilhar", r"partilhar", r"imprimir"),
        "nl": (r"delen", r"deel(?: dit artikel)?", r"afdrukken"),
        "ru": (r"поделиться", r"распечатать"),
        "sv": (r"dela", r"skriv ut"),
    },
    "subscribe": {
        "en": (r"subscribe", r"post comments \(atom\)", r"\(atom\)", r"follow us", r"newsletter"),
        "de": (r"abonnieren", r"kommentare zum post \(atom\)", r"folgen sie uns"),
        "fr": (r"s'abonner", r"abonnez-vous", r"inscription à", r"publier les commentaires \(atom\)"),
        "es": (r"suscribirse(?: a)?", r"suscríbete", r"enviar comentarios \(atom\)"),
        "it": (r"iscriviti(?: a)?", r"commenti sul post \(atom\)"),
        "pt": (r"assinar", r"assine", r"postar comentários \(atom\)"),
        "nl": (r"abonneren", r"reacties posten \(atom\)"),
        "ru": (r"подписаться(?: на)?", r"комментарии к сообщению \(atom\)"),
        "sv": (r"prenumerera(?: på)?", r"kommentarer till inlägget \(atom\)"),
    },
    "related": {
        "en": (
            r"related(?: (?:posts?|articles?|stories|content|news|reading|topics))?", r"read (?:more|next|also)",
            r"continue reading(?: the main story)?", r"you (?:may|might) also like", r"more (?:stories|news|articles)",
            r"recommended(?: for you)?", r"popular posts", r"most (?:read|popular|viewed)", r"see also",
            r"trending(?: now)?", r"latest (?:news|posts|articles)", r"recent posts",
            r"don'?t miss", r"must read", r"further reading", r"top stories",
        ),
        "de": (r"weiterlesen", r"mehr zum thema", r"lesen sie auch(?: die(?:se)? (?:folgenden )?(?:beiträge|artikel))?",
               r"weitere (?:beiträge|artikel)(?: (?:zum thema|aus der (?:kolumne|serie|reihe)))?", r"das könnte sie auch interessieren",
               r"ähnliche (?:beiträge|artikel)", r"verwandte artikel", r"beliebte posts", r"meistgelesen",
               r"weitere themen", r"mehr themen", r"zum weiterlesen", r"auch interessant"),
        "fr": (r"lire la suite", r"lire aussi", r"à lire aussi", r"articles similaires", r"sur le même sujet",
               r"vous aimerez aussi", r"articles populaires"),
        "es": (r"leer más", r"lee también", r"te puede interesar", r"artículos relacionados",
               r"entradas relacionadas", r"entradas populares", r"lo más leído",
               r"(?:notas|noticias) relacionadas"),
        "it": (r"leggi (?:anche|tutto)", r"continua a leggere", r"articoli correlati", r"post correlati", r"post più popolari"),
        "pt": (r"leia (?:mais|também)", r"continue lendo", r"artigos relacionados", r"postagens relacionadas",
               r"postagens populares", r"mais lidas"),
        "nl": (r"lees (?:meer|ook|verder)", r"gerelateerde (?:artikelen|berichten)", r"populaire berichten", r"meest gelezen"),
        "ru": (r"читать (?:далее|дальше|также)", r"читайте также", r"похожие (?:записи|статьи)", r"популярные сообщения"),
        "sv": (r"läs mer", r"läs också", r"relaterade (?:artiklar|inlägg)", r"populära inlägg", r"mest lästa"),
    },
    "tags": {
        "en": (r"tags?", r"tagged", r"labels?", r"categor(?:y|ies)", r"topics?", r"filed under"),
        "de": (r"schlagwörter", r"schlagworte", r"labels", r"kategorien?", r"themen"),
        "fr": (r"libellés", r"étiquettes", r"mots-clés", r"catégories?"),
        "es": (r"etiquetas", r"categorías?", r"temas"),
        "it": (r"etichette", r"argomenti", r"categorie"),
        "pt": (r"marcadores", r"etiquetas", r"categorias?"),
        "nl": (r"labels", r"categorieën", r"trefwoorden"),
        "ru": (r"ярлыки", r"метки", r"теги", r"рубрики?"),
        "sv": (r"etiketter", r"kategorier", r"ämnen"),
    },
    "footer": {
        "en": (r"all rights reserved", r"powered by (?:blogger|wordpress|ghost|substack|tumblr|squarespace|wix|drupal|joomla|hugo|jekyll)",
               r"proudly powered by wordpress", r"privacy policy", r"terms of (?:use|service)", r"disclaimer", r"contact(?: us)?",
               r"about(?: us)?", r"imprint"),
        "de": (r"alle rechte vorbehalten", r"impressum", r"datenschutz(?:erklärung)?", r"kontakt"),
        "fr": (r"tous droits réservés", r"mentions légales", r"politique de confidentialité"),
        "es": (r"todos los derechos reservados", r"aviso legal", r"política de privacidad"),
        "it": (r"tutti i diritti riservati", r"note legali"),
        "pt": (r"todos os direitos reservados", r"política de privacidade"),
        "nl": (r"alle rechten voorbehouden",),
        "ru": (r"все права защищены",),
        "sv": (r"alla rättigheter förbehållna",),
    },
    "advert": {
        "en": (r"advertisement", r"advertising", r"sponsored(?: content)?", r"ad", r"scroll to continue(?: with content)?"),
        "de": (r"anzeige", r"werbung"),
        "fr": (r"publicité",),
        "es": (r"publicidad", r"anuncio"),
        "it": (r"pubblicità",),
        "pt": (r"publicidade",),
        "nl": (r"advertentie",),
        "ru": (r"реклама",),
        "sv": (r"annons",),
    },
}

# Labels that start a chrome line followed by free text ("Tags: NATO, Russia, ...").
# The rest of the line must stay short (MAX_PREFIX_WORDS).
PREFIXES: dict[str, dict[str, tuple[str, ...]]] = {
    "tags": {
        "en": (r"tags? ?:", r"tagged(?: with)? ?:?", r"labels? ?:", r"categor(?:y|ies) ?:", r"topics? ?:", r"filed under ?:?", r"posted in"),
        "de": (r"schlagw(?:ö|o)rte(?:r)? ?:", r"kategorien? ?:", r"themen ?:", r"labels ?:"),
        "fr": (r"libellés ?:", r"étiquettes ?:", r"mots-clés ?:", r"catégories? ?:", r"classé dans ?:?"),
        "es": (r"etiquetas ?:", r"categorías? ?:", r"temas ?:", r"archivado en ?:?"),
        "it": (r"etichette ?:", r"tag ?:", r"argomenti ?:", r"categorie ?:"),
        "pt": (r"marcadores ?:", r"etiquetas ?:", r"categorias? ?:"),
        "nl": (r"labels ?:", r"categorieën ?:", r"trefwoorden ?:"),
        "ru": (r"ярлыки ?:", r"метки ?:", r"теги ?:", r"рубрики? ?:"),
        "sv": (r"etiketter ?:", r"kategorier ?:", r"ämnen ?:"),
    },
    "share": {
        "en": (r"share(?: this(?: article| story| post)?)? ?:",),
        "de": (r"teilen ?:", r"artikel teilen ?:"),
        "fr": (r"partager ?:", r"partagez ?:"),
        "es": (r"compartir ?:", r"comparte ?:"),
        "it": (r"condividi ?:",),
        "pt": (r"compartilhe ?:", r"compartilhar ?:", r"partilhar ?:"),
        "nl": (r"delen ?:", r"deel ?:"),
        "ru": (r"поделиться ?:",),
        "sv": (r"dela ?:",),
    },
    "subscribe": {
        "en": (r"subscribe to", r"sign up (?:for|to)", r"get (?:our|the) newsletter", r"follow us on"),
        "de": (r"abonnieren sie", r"newsletter abonnieren", r"melden sie sich", r"folgen sie uns auf"),
        "fr": (r"abonnez-vous", r"inscrivez-vous", r"inscription à ?:?", r"suivez-nous sur"),
        "es": (r"suscríbete", r"suscribirse a ?:?", r"síguenos en"),
        "it": (r"iscriviti", r"seguici su"),
        "pt": (r"assine", r"inscreva-se", r"siga-nos"),
        "nl": (r"abonneer", r"schrijf je in", r"volg ons op"),
        "ru": (r"подпишитесь", r"подписаться на ?:?"),
        "sv": (r"prenumerera på", r"följ oss på"),
    },
    "related": {
        "en": (r"read (?:more|also|next) ?:", r"also read ?:", r"related ?:", r"see (?:also|more) ?:",
               r"more on this(?: story)? ?:", r"recommended ?:"),
        "de": (r"mehr zum thema ?:", r"lesen sie (?:auch|hier|mehr) ?:", r"auch lesen ?:", r"auch interessant ?:"),
        "fr": (r"lire aussi ?[:»]", r"à lire aussi ?[:»]", r"voir aussi ?:"),
        "es": (r"lee también ?:", r"leer más ?:", r"(?:te|le) puede interesar ?:", r"puedes ver ?:",
               r"vea también ?:", r"lea también ?:", r"mir[ae](?: también)? ?:"),
        "it": (r"leggi anche ?:",),
        "pt": (r"leia também ?:", r"leia mais ?:", r"veja também ?:"),
        "nl": (r"lees ook ?:", r"lees meer ?:"),
        "ru": (r"читайте также ?:", r"читать также ?:"),
        "sv": (r"läs också ?:", r"läs mer ?:"),
    },
    "breadcrumb": {"*": (r"(?:home|startseite|accueil|inicio|главная|startsida) ?[›»>/|]",)},
    # Only with a © sign, "(c)" or a year: "Copyright law changed on Monday." is an article sentence.
    "copyright": {"*": (r"copyright ?(?:©|ⓒ|\(c\)|&copy;)", r"copyright \d{4}", r"©", r"ⓒ", r"\(c\) ?\d{4}")},
}

# Categories whose phrase line may head a trailing section (related titles, comment form).
SECTION_HEADINGS = frozenset({"related", "comments", "tags", "share"})

MAX_CTA_WORDS = 30
# The second opinion's tail check (``unconfirmed_tail``): the other extractor must hold at
# least this share of the text (else it read another block and its silence means nothing),
# and the tail it does not confirm may be at most this share of the text (a closing box, not
# half the article).
MIN_CONFIRMED_SHARE = 0.7
MAX_UNCONFIRMED_TAIL_SHARE = 0.3
MIN_BOX_LINE_WORDS = 4  # shorter lines leave a role box only when they are most of it
MIN_COPY_WORDS = 12  # a paragraph, for telling a second copy of the article
MIN_COPY_REPEATS = 3
MIN_SENTENCE_WORDS = 6
MAX_INNER_SECTION_LINES = 6
MAX_SEE_ALSO_WORDS = 20  # the headline after an inner "Read more:" label
MAX_LINE_CHARS = 200  # a longer line is never chrome
MAX_PREFIX_WORDS = 20  # words after a prefix label
MAX_SECTION_LINES = 15  # lines a trailing section may hold after its heading
MAX_SECTION_LINE_WORDS = 16  # a related title, a date, a form field label; longer is text

# Between phrases: whitespace, bullets, arrows, pipes and the punctuation a button or
# heading carries ("Share:", "« Previous", "Next »", "Comments are closed.").
_SEP = r"[\s|·•»«›‹<>←→↑/:\-–—.,!?*#]*"
# A phrase ends at a word boundary, or where CamelCase glues two buttons ("Share to TwitterShare").
_END = r"(?:(?!\w)|(?=(?-i:[A-ZÀ-ÖØ-ÞА-ЯЁ])))"


class Removed(NamedTuple):
    line: str
    category: str
    edge: Edge


class FilterResult(NamedTuple):
    text: str
    removed: list[Removed]


def _alternation(table: dict[str, dict[str, tuple[str, ...]]]) -> str:
    groups = []
    for category, by_lang in table.items():
        # Longest first, so "post a comment" is tried before "post comments"; the full-line
        # match backtracks anyway, this only makes the common case fast.
        phrases = sorted({p for ps in by_lang.values() for p in ps}, key=len, reverse=True)
        body = "|".join(p.replace(" ?", r"\s*").replace(" ", r"\s+") for p in phrases)
        groups.append(f"(?P<{category}>{body})")
    return "|".join(groups)


_PHRASE_LINE = re.compile(rf"{_SEP}(?:(?:{_alternation(PHRASES)}){_END}{_SEP})+", re.IGNORECASE)
_PREFIX = re.compile(rf"{_SEP}(?:{_alternation(PREFIXES)})", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)»]*\s*$")
# Markup that leaked as text: a CMS shortcode ("[button link=...]Send[/button]"), a bare
# ISO timestamp from structured data.
_MARKUP_JUNK = re.compile(r"\[(\w+)\b[^\]]*\].*\[/\1\]|\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d)?(?:[+-]\d\d:?\d\d|Z)?")
# A line that labels a picture or a paid post, not article text: an image credit or source
# ("Foto: dpa", "Crédits photos : X", "Quelle: Y", "© Reuters | Z"), an advertising label
# ("Anzeige - ...", "*Werbung. ..."). The label must be followed by its separator, so "Werbung
# nervt." or "Source code matters" stay. Labels, not sentences; short lines only.
_CREDIT_LINE = re.compile(
    r"[\W_]*(?:(?:foto|fotos|photo|photos|bild|bilder|beitragsbild|titelbild|image|images|crédits? photos?|crédits?|"
    r"credits?|fuente|imagen|zdjęcie|fot\.|source|quelle) ?[:©]|(?P<ad>(?:anzeige|werbung|advertisement|publicidad|"
    r"sponsored|reklama) ?[-–:.|*])|(?P<copy>[©ⓒ]))",
    re.IGNORECASE,
)
# A dateline alone on its line ("23.10.2018", "3:59 PM", "January 13, 2020 at 08:45 AM"): the
# page's date, shown above or under the text, which the date field holds.
_MONTH = (r"(?:jan|feb|fév|fev|mar|mär|apr|avr|abr|may|mai|maj|mag|jun|jui|giu|jul|lug|aug|ago|aoû|sep|set|oct|okt|"
          r"ott|nov|dec|dez|déc|dic|ene|gen|sty|lut|kwi|cze|lip|sie|wrz|paź|lis|gru)[^\W\d]*\.?")
_DATE_LINE = re.compile(
    rf"\W*(?:\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}|\d{{4}}-\d\d-\d\d|\d{{1,2}}\.? {_MONTH} \d{{4}}|{_MONTH} \d{{1,2}},? \d{{4}}|(?=\d{{1,2}}:\d\d))"
    r"(?: ?(?:[|,–-]|um|at|à)? ?\d{1,2}:\d\d(?: ?[ap]\.?m\.?| ?uhr)?)?\W*",
    re.IGNORECASE,
)
MAX_CREDIT_WORDS = 15
MAX_MARKED_WORDS = 40  # an advertising label or a © notice may carry a sentence or two
# What a closing promo line names: a social channel, a newsletter, an app, a sign-up.
_CTA = re.compile(
    r"\b(?:follow (?:us|\w+(?: \w+){0,3}) on|follow @|on (?:twitter|facebook|instagram|youtube)\b|newsletter|"
    r"subscrib(?:e|ing)\b|sign up\b|click here|download (?:our|the)|(?:get|download) the [\w ]{0,30}app\b|"
    r"folg(?:en sie|t) uns|abonnier|síguenos|suivez-nous|seguici|inscreva-se|"
    r"(?:channel|canal|kanal) (?:on |de |en |auf )?(?:telegram|whatsapp|youtube))",
    re.IGNORECASE,
)


def chrome_category(line: str) -> str | None:
    """The chrome category of one line, or None when the line is (or may be) article text."""
    line = line.strip()
    if not line or len(line) > MAX_LINE_CHARS:
        return None
    m = _PHRASE_LINE.fullmatch(line)
    if m:
        return _first_group(m)
    m = _PREFIX.match(line)
    if m:
        category = _first_group(m)
        rest = line[m.end():]
        # The label must end at a word boundary: "Tagsüber ..." and "Shareholders: ..." are text.
        if rest[:1].isalnum() and m.group(0)[-1:].isalnum():
            return None
        # Without a colon the label could open a sentence ("Posted in 2019, the video ...");
        # only a call to action ("Subscribe to our newsletter.") may then end like one.
        if not m.group(0).rstrip().endswith(":") and category not in ("subscribe", "copyright") and line[-1] in ".!?":
            return None
        limit = MAX_PREFIX_WORDS + (5 if category == "copyright" else 0)
        if len(_WORD.findall(rest)) <= limit:
            return category
    return None


def _first_group(m: re.Match[str]) -> str:
    found = [(m.start(name), name) for name, value in m.groupdict().items() if value is not None]
    return min(found)[1]


def strip_chrome(text: str, *, inner: bool = True, calls_to_action: bool = True) -> FilterResult:
    """Remove chrome lines at the start and end of ``text``, and the few unmistakable kinds
    inside it (``inner``); ``calls_to_action`` may end the text's chrome too (module doc).

    Returns the cleaned text (inner line breaks and blank lines as they were, edges trimmed)
    and the removed lines with their category and edge, in the order they were removed.
    """
    lines = text.split("\n")
    removed: list[Removed] = []
    start, end = 0, len(lines)

    while start < end:  # head: plain chrome lines only
        if not lines[start].strip():
            start += 1
            continue
        category = chrome_category(lines[start])
        if category is None:
            break
        removed.append(Removed(lines[start].strip(), category, "head"))
        start += 1

    while start < end:  # tail: chrome lines, then a trailing section if one ends the text
        if not lines[end - 1].strip():
            end -= 1
            continue
        category = chrome_category(lines[end - 1])
        if category is not None:
            removed.append(Removed(lines[end - 1].strip(), category, "tail"))
            end -= 1
            continue
        if calls_to_action and _call_to_action(lines[end - 1]):
            removed.append(Removed(lines[end - 1].strip(), "subscribe", "tail"))
            end -= 1
            continue
        cut = _trailing_section(lines, start, end, calls_to_action)
        if cut is None:
            break
        heading_category = chrome_category(lines[cut]) or "related"
        for i in range(end - 1, cut - 1, -1):
            if lines[i].strip():
                removed.append(Removed(lines[i].strip(), chrome_category(lines[i]) or heading_category, "tail"))
        end = cut

    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    if inner:
        end = _before_second_copy(lines, start, end, removed)
    kept: list[str] = []
    i = start
    while i < end:
        line = lines[i]
        if not inner:
            kept.append(line)
            i += 1
            continue
        span = _inner_section(lines, i, end)
        if not span and _MARKUP_JUNK.fullmatch(line.strip()):
            removed.append(Removed(line.strip(), "markup", "inner"))
            if kept and not kept[-1].strip():
                kept.pop()
            i += 1
            continue
        if span or _see_also(line):
            for gone in lines[i:i + max(span, 1)]:
                if gone.strip():
                    removed.append(Removed(gone.strip(), "related", "inner"))
            if kept and not kept[-1].strip():
                kept.pop()  # with the blank line that separated it
            i += max(span, 1)
            continue
        kept.append(line)
        i += 1
    while kept and not kept[0].strip():
        kept.pop(0)
    return FilterResult("\n".join(kept), removed)


def _inner_section(lines: list[str], i: int, end: int) -> int:
    """Lines taken by a "Don't miss" / "Related" box inside the text, starting at ``i``: a
    related-stories heading, then only short lines that are not sentences (other stories'
    headlines), then the article again. 0 when line ``i`` heads no such box."""
    line = lines[i].strip()
    if not line or chrome_category(line) != "related" or not _PHRASE_LINE.fullmatch(line):
        return 0
    j, titles = i + 1, 0
    while j < end and titles <= MAX_INNER_SECTION_LINES:
        nxt = lines[j].strip()
        if nxt:
            if nxt[-1] in ".!?:" or len(_WORD.findall(nxt)) > MAX_SECTION_LINE_WORDS:
                break  # the article resumes
            titles += 1
        j += 1
    if titles == 0 or titles > MAX_INNER_SECTION_LINES or j >= end:
        return 0  # a lone label, or a box that never ends: not ours to judge here
    while j > i and not lines[j - 1].strip():
        j -= 1
    return j - i


def _before_second_copy(lines: list[str], start: int, end: int, removed: list[Removed]) -> int:
    """Where a second copy of the article begins, if the text ends with one (structured data
    or a hidden print version rendered after the body): from the first repeated paragraph on,
    nothing but repeats and short lines, repeating at least half the paragraphs before it.
    The lines between the article's last sentence and the copy (titles, dates, image urls of
    the same structured data) go with it."""
    seen: set[str] = set()
    first_repeat = None
    own = 0  # paragraphs before the first repeat
    repeats = 0
    for i in range(start, end):
        words = _WORD.findall(lines[i].casefold())
        if len(words) < MIN_COPY_WORDS:
            line = lines[i].rstrip()
            if (first_repeat is not None and len(words) >= MIN_SENTENCE_WORDS and _SENTENCE_END.search(line)
                    and not line.endswith(("...", "…"))):  # a teaser ("This is the news you need to...") is no sentence
                return end  # a new sentence after the repeats: the text goes on
            continue
        key = " ".join(words)
        if key in seen:
            first_repeat = i if first_repeat is None else first_repeat
            repeats += 1
        elif first_repeat is not None:
            return end  # new text after a repeat: a refrain, not a copy
        else:
            seen.add(key)
            own += 1
    if first_repeat is None or repeats < max(MIN_COPY_REPEATS, own // 2):
        return end
    cut = first_repeat
    while cut > start and (len(_WORD.findall(lines[cut - 1])) < MIN_COPY_WORDS or not _SENTENCE_END.search(lines[cut - 1])):
        cut -= 1
    removed.extend(Removed(line.strip(), "duplicate", "tail") for line in lines[cut:end] if line.strip())
    return cut


def _credit_line(line: str) -> bool:
    """An image credit, a © notice, an advertising label or a dateline alone, anywhere in the
    text (module doc)."""
    m = _CREDIT_LINE.match(line)
    if not m:
        return _DATE_LINE.fullmatch(line) is not None
    limit = MAX_MARKED_WORDS if m.group("ad") or m.group("copy") else MAX_CREDIT_WORDS
    return len(_WORD.findall(line)) <= limit


def _call_to_action(line: str) -> bool:
    """A closing promo line: "Follow us on Twitter", "Subscribe to our newsletter ...",
    "Click here to get the app": short, and naming a channel or a sign-up."""
    line = line.strip()
    return bool(line) and len(_WORD.findall(line)) <= MAX_CTA_WORDS and _CTA.search(line) is not None


def _see_also(line: str) -> bool:
    """A "Read more: <other story's headline>" line, the one chrome that sits inside the text:
    a related-story label ending in a colon (or "»"), then a short headline, not a sentence."""
    line = line.strip()
    m = _PREFIX.match(line)
    if not m or _first_group(m) != "related" or m.group(0).rstrip()[-1:] not in (":", "»"):
        return False
    words = len(_WORD.findall(line[m.end():]))
    return 2 <= words <= MAX_SEE_ALSO_WORDS and line[-1] not in ".;,"


def _trailing_section(lines: list[str], start: int, end: int, calls_to_action: bool = True) -> int | None:
    """Index of a section heading ("Related Posts", "Comments") followed only by short lines
    that are not sentences (titles, dates, form labels) or are chrome themselves.

    Looks back at most MAX_SECTION_LINES non-blank lines; picks the earliest such heading,
    so "Related Posts / title / date / title / date" goes as one block.
    """
    cut = None
    seen = 0
    for i in range(end - 1, start, -1):  # never the first line: a text is not all one section
        line = lines[i].strip()
        if not line:
            continue
        category = chrome_category(line)
        if (category in SECTION_HEADINGS and _PHRASE_LINE.fullmatch(line)) or (
            calls_to_action and category in (None, "subscribe") and _call_to_action(line)
        ):
            cut = i
        elif category is None and (line[-1] == "." or len(_WORD.findall(line)) > MAX_SECTION_LINE_WORDS):
            break  # a sentence: the section (if any) starts after it
        seen += 1
        if seen > MAX_SECTION_LINES:
            break
    return cut


def unconfirmed_tail(text: str, other: str) -> FilterResult:
    """Cut the lines at the end of ``text`` that a second extractor's text (``other``) lacks.

    Two extractors that agree on the article but not on its last lines: the lines only one of
    them kept are a closing box (author bio, promo, "more on this topic", comment form) far
    more often than article text. Only the tail: a lead or teaser that the other one skipped
    at the head is article text as often as not. Lines are compared as word sequences, so the
    other extractor's own line breaks and punctuation do not matter.
    """
    other_words = " " + " ".join(_WORD.findall(other.casefold())) + " "
    lines = text.split("\n")
    sized = [(i, len(line)) for i, line in enumerate(lines) if _WORD.search(line)]
    confirmed = {i for i, _ in sized if f" {' '.join(_WORD.findall(lines[i].casefold()))} " in other_words}
    total = sum(n for _, n in sized)
    if not total or sum(n for i, n in sized if i in confirmed) < MIN_CONFIRMED_SHARE * total:
        return FilterResult(text, [])
    cut = len(lines)
    for i, _ in reversed(sized):
        if i in confirmed:
            break
        cut = i
    tail = [line.strip() for line in lines[cut:] if line.strip()]
    if not tail or sum(len(line) for line in lines[cut:] if _WORD.search(line)) > MAX_UNCONFIRMED_TAIL_SHARE * total:
        return FilterResult(text, [])
    return FilterResult("\n".join(lines[:cut]).rstrip(), [Removed(line, "unconfirmed", "tail") for line in tail])


def strip_credits(text: str) -> FilterResult:
    """Drop image credits, © notices and advertising labels anywhere in ``text``
    (``_CREDIT_LINE``): they label a picture or a paid post, never the article."""
    return _drop_lines(text, _credit_line, "credit")


def _drop_lines(text: str, test: Callable[[str], bool], category: str) -> FilterResult:
    kept: list[str] = []
    removed: list[Removed] = []
    for line in text.split("\n"):
        if line.strip() and test(line):
            removed.append(Removed(line.strip(), category, "inner"))
            if kept and not kept[-1].strip():
                kept.pop()  # with the blank line that separated it
            continue
        kept.append(line)
    while kept and not kept[0].strip():
        kept.pop(0)
    return FilterResult("\n".join(kept).rstrip(), removed)


def lines_in_boxes(text: str, boxes: list[str]) -> FilterResult:
    """Drop the lines of ``text`` that the page shows inside one of ``boxes`` (the texts of
    elements whose class or id names a non-article role: a newsletter form, a disclaimer, a
    photo credit; ``ingest.extractor._role_boxes``). Lines are compared as word sequences; a
    short line (under ``MIN_BOX_LINE_WORDS`` words) must be most of its box, as a few words
    can sit inside any box by chance."""
    keyed = [" " + " ".join(_WORD.findall(box.casefold())) + " " for box in boxes]
    keyed = [box for box in keyed if box.strip()]
    if not keyed:
        return FilterResult(text, [])

    def in_box(line: str) -> bool:
        words = _WORD.findall(line.casefold())
        key = f" {' '.join(words)} "
        return any(key in box and (len(words) >= MIN_BOX_LINE_WORDS or 2 * len(key) >= len(box)) for box in keyed)

    return _drop_lines(text, in_box, "box")
