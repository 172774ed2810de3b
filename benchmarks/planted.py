"""`newsflow bench planted`: page chrome planted before, between and after an article's
paragraphs, on synthetic pages of several platforms and languages; counts the chrome strings
each extractor leaks and the article words it loses, newsflow beside plain trafilatura.

The pages are built here (``pages``), not fetched: each is a platform's markup (WordPress,
Blogger, Ghost, a Medium-like page, a news CMS) around an article in English, German, French or
Spanish, with the chrome kinds that leak most (advertising labels, continuation markers, a
newsletter box, share and comment-form lines, a related-headlines box, a video player's
interface, consent buttons) in that language. tests/test_planted_chrome.py asserts newsflow
leaks none of them and keeps every article word.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.table import Table

_WORD = re.compile(r"\w+")

ARTICLES: dict[str, tuple[str, list[str]]] = {
    "en": ("Harbour town votes to rebuild its old sea wall", [
        "Residents of the small harbour town voted on Sunday to rebuild the sea wall that has protected its quay since 1870, after two winter storms broke through it in January.",
        "The council had put three plans to the vote, and the most expensive of them won a clear majority: a new wall two metres higher than the old one, built from local granite.",
        "Engineers say the work will take three summers, because the wall can only be built at low tide and the harbour must stay open to the fishing fleet throughout.",
        "Local fishermen welcomed the result, although several of them said they feared the cost would fall on the harbour dues they pay every month.",
        "The regional government has promised to pay half of the bill, provided that the town finds the rest within two years.",
    ]),
    "de": ("Kleinstadt stimmt für neue Brücke über den Fluss", [
        "Die Bürgerinnen und Bürger der Kleinstadt haben am Sonntag mit deutlicher Mehrheit für den Bau einer neuen Brücke über den Fluss gestimmt, der die Altstadt vom Bahnhof trennt.",
        "Die alte Holzbrücke war im vergangenen Herbst gesperrt worden, nachdem Gutachter Risse in mehreren tragenden Balken gefunden hatten.",
        "Seitdem müssen Pendler einen Umweg von fast vier Kilometern fahren, und viele Geschäfte in der Altstadt klagen über weniger Kundschaft.",
        "Der Bürgermeister sagte nach der Abstimmung, die Bauarbeiten sollten im kommenden Frühjahr beginnen und spätestens in zwei Jahren abgeschlossen sein.",
        "Das Land hat zugesagt, die Hälfte der Kosten zu übernehmen, wenn die Stadt den Rest aus eigenen Mitteln aufbringt.",
    ]),
    "fr": ("Le village vote pour rouvrir son ancienne gare", [
        "Les habitants du village ont voté dimanche pour la réouverture de l'ancienne gare, fermée depuis plus de trente ans faute de voyageurs.",
        "Le conseil municipal avait proposé deux projets, et celui qui prévoit un arrêt régulier des trains régionaux a recueilli près de deux tiers des voix.",
        "Selon la région, les premiers trains pourraient s'arrêter au village dès l'automne prochain, une fois les quais remis en état.",
        "Plusieurs commerçants du centre se sont réjouis du résultat, tandis que des riverains s'inquiètent du bruit et du stationnement autour de la gare.",
        "Le maire a promis une réunion publique le mois prochain pour présenter le calendrier des travaux et répondre aux questions des habitants.",
    ]),
    "es": ("El pueblo aprueba la restauración de su antiguo mercado", [
        "Los vecinos del pueblo aprobaron el domingo en consulta popular la restauración del antiguo mercado municipal, cerrado desde hace una década.",
        "El ayuntamiento había presentado dos proyectos, y el que conserva la estructura de hierro original obtuvo casi el setenta por ciento de los votos.",
        "Según los técnicos municipales, las obras comenzarán en primavera y durarán unos dieciocho meses, durante los cuales la plaza seguirá abierta al público.",
        "Los comerciantes de la zona celebraron el resultado, aunque algunos pidieron que los alquileres de los nuevos puestos sean asequibles para los productores locales.",
        "La diputación provincial ha prometido financiar la mitad del presupuesto si el municipio aporta el resto antes de que termine el año.",
    ]),
}

# Chrome by kind and language. "box" kinds are several lines shown together.
CHROME: dict[str, dict[str, list[str]]] = {
    "advert": {"en": ["Advertisement"], "de": ["Anzeige"], "fr": ["Publicité"], "es": ["Publicidad"]},
    "continue": {
        "en": ["Story continues below advertisement"], "de": ["Lesen Sie nach der Anzeige weiter"],
        "fr": ["La suite après cette publicité"], "es": ["La noticia continúa tras la publicidad"],
    },
    "newsletter": {
        "en": ["Sign up for our morning newsletter", "Enter your email", "By signing up, you agree to our privacy policy."],
        "de": ["Melden Sie sich für unseren Newsletter an", "Ihre E-Mail-Adresse", "Mit der Anmeldung akzeptieren Sie unsere Datenschutzerklärung."],
        "fr": ["Inscrivez-vous à notre newsletter", "Votre adresse e-mail", "En vous inscrivant, vous acceptez notre politique de confidentialité."],
        "es": ["Suscríbete a nuestro boletín", "Tu correo electrónico", "Al suscribirte aceptas nuestra política de privacidad."],
    },
    "share": {
        "en": ["Share on Facebook", "Share on Twitter"], "de": ["Auf Facebook teilen", "Per E-Mail teilen"],
        "fr": ["Partager sur Facebook", "Partager par e-mail"], "es": ["Compartir en Facebook", "Compartir en WhatsApp"],
    },
    "comment_form": {
        "en": ["Leave a Reply", "Your email address will not be published.", "Required fields are marked *"],
        "de": ["Kommentar schreiben", "Ihre E-Mail-Adresse wird nicht veröffentlicht.", "Erforderliche Felder sind mit * markiert"],
        "fr": ["Laisser un commentaire", "Votre adresse e-mail ne sera pas publiée.", "Les champs obligatoires sont indiqués avec *"],
        "es": ["Deja un comentario", "Tu dirección de correo electrónico no será publicada.", "Los campos obligatorios están marcados con *"],
    },
    "related": {
        "en": ["Related stories", "Council approves new budget for schools", "Ferry timetable changes from May", "Storm damage: what the insurers say"],
        "de": ["Lesen Sie auch", "Gemeinderat beschließt neuen Haushalt", "Neue Buslinie ab Mai", "Sturmschäden: Was die Versicherer sagen"],
        "fr": ["À lire aussi", "Le conseil adopte le budget des écoles", "Nouveaux horaires du bac dès mai", "Tempête : ce que disent les assureurs"],
        "es": ["Te puede interesar", "El pleno aprueba el presupuesto escolar", "Nuevos horarios del autobús en mayo", "Temporal: lo que dicen las aseguradoras"],
    },
    "player": {
        "en": ["Now Playing", "Play Video", "Mute", "Fullscreen"], "de": ["Video abspielen", "Stummschalten", "Vollbild"],
        "fr": ["Lire la vidéo", "Couper le son", "Plein écran"], "es": ["Reproducir vídeo", "Silenciar", "Pantalla completa"],
    },
    "consent": {
        "en": ["Accept all cookies", "Manage preferences"], "de": ["Alle akzeptieren", "Einstellungen verwalten"],
        "fr": ["Tout accepter", "Gérer mes choix"], "es": ["Aceptar todo", "Configuración de cookies"],
    },
}


@dataclass(frozen=True)
class PlantedPage:
    name: str
    url: str
    html: str
    paragraphs: list[str]
    chrome: list[str]


def _p(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{html.escape(text)}</p>"


def _box(kind: str, lines: list[str]) -> str:
    """A chrome kind in the markup themes give it (an aside, a form, a player, a list of links)."""
    e = [html.escape(line) for line in lines]
    if kind == "newsletter":
        return (f'<div class="nl-box"><h3>{e[0]}</h3><form><label>{e[1]}</label><input type="email">'
                f'<button>OK</button></form><p class="small">{e[2]}</p></div>')
    if kind == "related":
        items = "".join(f'<li><a href="/2024/05/story-{i}">{t}</a></li>' for i, t in enumerate(e[1:]))
        return f'<aside class="related"><h4>{e[0]}</h4><ul>{items}</ul></aside>'
    if kind == "player":
        return '<div class="video-player">' + "".join(f'<button>{t}</button>' for t in e) + "</div>"
    if kind in ("share", "consent"):
        return '<div class="bar">' + "".join(f'<a href="#">{t}</a> ' for t in e) + "</div>"
    if kind == "comment_form":
        return f'<div id="respond"><h3>{e[0]}</h3><p>{e[1]}</p><p>{e[2]}</p><textarea></textarea></div>'
    return "".join(f'<p class="label">{t}</p>' for t in e)


# Where each kind goes: before the first paragraph, after paragraph i, after the last.
_LAYOUT = (("player", 0), ("advert", 1), ("continue", 1), ("newsletter", 2), ("related", 3), ("share", 5),
           ("comment_form", 5))

PLATFORMS = {
    "wordpress": ('<body class="single-post"><header><a href="/">Home</a></header><main><article class="post type-post">'
                  '<h1 class="entry-title">{title}</h1><div class="entry-content">{body}</div></article></main>'
                  '<footer>{consent}</footer></body>'),
    "blogger": ('<body><div class="post hentry"><h3 class="post-title entry-title">{title}</h3>'
                '<div class="post-body entry-content">{body}</div></div><div class="cookie-choices">{consent}</div></body>'),
    "ghost": ('<body class="post-template"><article class="gh-article"><header class="gh-header"><h1>{title}</h1></header>'
              '<section class="gh-content">{body}</section></article>{consent}</body>'),
    "medium": ('<body><div id="root"><article><div><section><h1>{title}</h1><div>{body}</div></section></div></article>'
               '</div>{consent}</body>'),
    "newscms": ('<body><nav><a href="/politik">Politik</a></nav><div class="article-page"><h1 class="headline">{title}</h1>'
                '<div class="article-body" itemprop="articleBody">{body}</div></div><div class="consent">{consent}</div></body>'),
}


def pages() -> list[PlantedPage]:
    """Every platform in every language, chrome planted where ``_LAYOUT`` says."""
    built = []
    for platform, frame in PLATFORMS.items():
        for lang, (title, paragraphs) in ARTICLES.items():
            planted: list[str] = []
            parts = []
            for i in range(len(paragraphs) + 1):
                for kind, after in _LAYOUT:
                    if after == i:
                        lines = CHROME[kind][lang]
                        parts.append(_box(kind, lines))
                        planted += lines
                if i < len(paragraphs):
                    parts.append(_p(paragraphs[i]))
            consent = CHROME["consent"][lang]
            planted += consent
            body = frame.format(title=html.escape(title), body="".join(parts), consent=_box("consent", consent))
            page = (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)} | Example</title>'
                    f'<meta property="og:title" content="{html.escape(title)}"></head>{body}</html>')
            built.append(PlantedPage(f"{platform}-{lang}", f"https://{platform}.example.org/{lang}/2024/05/story",
                                     page, paragraphs, planted))
    return built


def leaks(text: str | None, page: PlantedPage) -> list[str]:
    """The planted chrome strings found in ``text`` (as whole lines or inside one)."""
    lines = {" ".join(_WORD.findall(line.casefold())) for line in (text or "").split("\n")}
    found = []
    for chrome in page.chrome:
        key = " ".join(_WORD.findall(chrome.casefold()))
        if any(key == line or (len(key.split()) >= 3 and key in line) for line in lines):
            found.append(chrome)
    return found


def lost_words(text: str | None, page: PlantedPage) -> int:
    """Article words missing from ``text`` (a paragraph counts whole when its words are not in order)."""
    have = " " + " ".join(_WORD.findall((text or "").casefold())) + " "
    missing = 0
    for paragraph in page.paragraphs:
        words = _WORD.findall(paragraph.casefold())
        if f" {' '.join(words)} " not in have:
            missing += len(words)
    return missing


def bench_planted() -> None:
    """Chrome planted before, between and after the paragraphs of synthetic pages: leaks and lost words."""
    import trafilatura

    from newsflow.ingest.extract.article import extract

    table = Table(title="chrome planted in synthetic pages (5 platforms x 4 languages)")
    for col in ("extractor", "pages", "chrome strings", "leaked", "article words", "lost"):
        table.add_column(col)
    rows = {"trafilatura": [0, 0], "newsflow": [0, 0]}
    built = pages()
    chrome = sum(len(p.chrome) for p in built)
    words = sum(len(_WORD.findall(" ".join(p.paragraphs))) for p in built)
    for page in built:
        texts = {"trafilatura": trafilatura.extract(page.html, url=page.url),
                 "newsflow": extract(page.html.encode(), page.url).article.text}
        for name, text in texts.items():
            rows[name][0] += len(leaks(text, page))
            rows[name][1] += lost_words(text, page)
    for name, (leaked, lost) in rows.items():
        table.add_row(name, str(len(built)), str(chrome), str(leaked), str(words), str(lost))
    Console().print(table)


def planted_cli(
    verbose: bool = typer.Option(False, "--verbose", help="List each page's leaks."),
) -> None:
    """Score newsflow and plain trafilatura on chrome planted in synthetic pages."""
    bench_planted()
    if verbose:
        from newsflow.ingest.extract.article import extract

        for page in pages():
            text = extract(page.html.encode(), page.url).article.text
            found, lost = leaks(text, page), lost_words(text, page)
            if found or lost:
                print(f"{page.name}: leaked {found}, lost {lost} words")
