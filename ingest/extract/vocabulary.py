"""The words of page chrome, as data apart from the rules that use them (``chrome``,
``line_filters``, ``metadata``), as trafilatura keeps its xpaths in ``xpaths.py``.

Entries are regex fragments, matched case-insensitively. In ``PHRASES`` and ``PREFIXES`` a space
matches any run of whitespace (" ?" an optional one). Adding a language or a phrase is an edit
here only; the bench (docs/extraction.md) says whether it helps.
"""

from __future__ import annotations

# Chrome phrases by category, then language. Regex fragments, matched case-insensitively;
# a space matches any run of whitespace (" ?" an optional one). A line is chrome when it is a sequence of these.
PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    # A comment form's prompts and fine print (also heads of a trailing section).
    "comment_form": {
        "en": (r"(?:post|leave|add|write|submit) (?:a |your )?(?:comment|reply)", r"cancel reply",
               r"(?:name|e-?mail|website|comment) ?\*",
               r"your email address will not be published", r"required fields are marked \*?",
               r"save my name, email, and website in this browser for the next time i comment",
               r"comments are closed", r"\d+ comments?", r"comments? \(\d+\)", r"show comments", r"view comments", r"load comments",
               r"join the (?:conversation|discussion)", r"reply"),
        "de": (r"(?:deine|ihre) e-mail-adresse wird nicht veröffentlicht", r"erforderliche felder sind mit \*? ?markiert",
               r"kommentar (?:abschicken|absenden|schreiben|verfassen|abgeben|hinterlassen|veröffentlichen)", r"antworten abbrechen",
               r"(?:name|e-mail|webseite|website|kommentar) ?\*", r"\d+ kommentare?", r"kommentare anzeigen", r"antworten"),
        "fr": (r"votre adresse (?:e-mail|de messagerie|courriel) ne sera pas publiée",
               r"les champs obligatoires sont indiqués avec \*?", r"annuler la réponse", r"laisser une réponse",
               r"(?:écrire|rédiger|poster|publier|laisser|ajouter) (?:un|votre) commentaire", r"(?:nom|e-?mail|site web|commentaire) ?\*", r"\d+ commentaires?",
               r"voir les commentaires", r"répondre"),
        "es": (r"tu (?:dirección de )?correo electrónico no (?:será|se) publicad[ao]",
               r"los campos obligatorios están marcados con \*?", r"cancelar respuesta", r"deja una respuesta",
               r"(?:escrib[ea]|escribir|deja|dejar|publica|publicar|añade|añadir) (?:un|tu) comentario",
               r"(?:nombre|correo(?: electrónico)?|sitio web|comentario) ?\*", r"\d+ comentarios?", r"ver comentarios", r"responder"),
    },
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
        "de": (r"(?:deine|ihre) e-mail-adresse wird nicht veröffentlicht", r"erforderliche felder sind mit \*? ?markiert",
               r"kommentar abschicken", r"antworten abbrechen", r"kommentar veröffentlichen", r"kommentar schreiben", r"keine kommentare", r"\d+ kommentare?",
               r"kommentare?", r"kommentieren", r"antworten"),
        "fr": (r"votre adresse (?:e-mail|de messagerie|courriel) ne sera pas publiée",
               r"les champs obligatoires sont indiqués avec \*?", r"annuler la réponse", r"laisser une réponse",
               r"publier un commentaire", r"laisser un commentaire", r"ajouter un commentaire",
               r"aucun commentaire", r"\d+ commentaires?", r"commentaires?", r"répondre"),
        "es": (r"tu (?:dirección de )?correo electrónico no (?:será|se) publicad[ao]",
               r"los campos obligatorios están marcados con \*?", r"cancelar respuesta", r"deja una respuesta",
               r"publicar un comentario", r"deja(?:r)? un comentario", r"no hay comentarios",
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
        "de": (r"teilen(?: (?:auf|per|via) \w+)?", r"artikel teilen", r"drucken", r"link kopieren", r"beitrag teilen",
               r"auf \w+ teilen", r"per e-mail (?:versenden|teilen)"),
        "fr": (r"partager(?: cet article| sur \w+| par e-mail)?", r"partagez(?: cet article)?", r"imprimer", r"copier le lien",
               r"envoyer par (?:e-mail|courriel)"),
        "es": (r"compartir(?: en \w+| (?:esta|la) noticia| este artículo| por correo)?", r"comparte(?: esta noticia)?",
               r"imprimir", r"copiar enlace", r"enviar por (?:e-mail|correo)"),
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
        "es": (r"suscribirse(?: a)?", r"suscríbete", r"suscribirme", r"enviar comentarios \(atom\)"),
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
            r"don'?t miss", r"must read", r"further reading", r"top stories", r"more from [\w ]{1,30}",
            r"(?:you may|we) recommend", r"more (?:on|about) this (?:story|topic)", r"editor'?s picks?",
        ),
        "de": (r"weiterlesen", r"mehr zum thema", r"lesen sie auch(?: die(?:se)? (?:folgenden )?(?:beiträge|artikel))?",
               r"weitere (?:beiträge|artikel)(?: (?:zum thema|aus der (?:kolumne|serie|reihe)))?", r"das könnte sie auch interessieren",
               r"ähnliche (?:beiträge|artikel)", r"verwandte artikel", r"beliebte posts", r"meistgelesen",
               r"weitere themen", r"mehr themen", r"zum weiterlesen", r"auch interessant",
               r"empfohlene (?:artikel|beiträge)", r"unsere empfehlungen?", r"mehr aus (?:dem )?ressort", r"top-?themen"),
        "fr": (r"lire la suite", r"lire aussi", r"à lire aussi", r"à lire également", r"articles similaires", r"sur le même sujet",
               r"vous aimerez aussi", r"articles populaires", r"(?:nos )?articles recommandés", r"à découvrir(?: aussi)?",
               r"les plus lus", r"dans la même rubrique", r"à la une"),
        "es": (r"leer más", r"lee también", r"te puede interesar", r"artículos relacionados",
               r"entradas relacionadas", r"entradas populares", r"lo más leído",
               r"(?:notas|noticias) relacionadas", r"te recomendamos", r"recomendado(?:s)?(?: para ti)?", r"más noticias",
               r"también te puede interesar", r"lo más visto", r"otras noticias"),
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
        "en": (r"advertisement", r"advertising", r"sponsored(?: content)?", r"ad", r"promoted", r"paid (?:content|post)", r"scroll to continue(?: with content)?"),
        "de": (r"anzeige", r"werbung", r"gesponsert"),
        "fr": (r"publicité", r"pub", r"annonce", r"contenu sponsorisé"),
        "es": (r"publicidad", r"anuncio", r"contenido patrocinado"),
        "it": (r"pubblicità",),
        "pt": (r"publicidade",),
        "nl": (r"advertentie",),
        "ru": (r"реклама",),
        "sv": (r"annons",),
    },
    # Markers that the article goes on after an advertisement or a box.
    "continue": {
        "en": (r"(?:continue|keep) reading(?: (?:below|after (?:the |this )?(?:ad(?:vertisement)?|break)))?",
               r"(?:the )?(?:article|story|text) continues(?: (?:below|after (?:the |this )?(?:ad(?:vertisement)?|break)))?",
               r"scroll (?:down )?to continue(?: reading)?", r"continue below"),
        "de": (r"lesen sie (?:(?:nach|unter) der (?:anzeige|werbung) )?(?:hier )?weiter(?: (?:nach|unter) der (?:anzeige|werbung))?",
               r"weiter(?:lesen)? (?:nach|unter) der (?:anzeige|werbung)",
               r"(?:der )?artikel (?:geht|wird) (?:unter|nach|unterhalb) der (?:anzeige|werbung) (?:weiter|fortgesetzt)",
               r"(?:der )?artikel (?:geht|wird) (?:unten|unterhalb) (?:weiter|fortgesetzt)", r"weiterlesen (?:nach der|unter der) (?:anzeige|werbung)",
               r"fortsetzung (?:nach der|unter der) (?:anzeige|werbung)"),
        "fr": (r"la suite (?:après|sous) (?:cette |la )?publicité", r"(?:lire|voir) la suite (?:ci-dessous|plus bas)",
               r"(?:l'article|la suite de l'article|suite de l'article) (?:continue |se poursuit )?(?:ci-dessous|après (?:cette |la )?publicité)",
               r"continuer (?:la )?lecture"),
        "es": (r"(?:sigue|continúa|continuar|seguir) leyendo(?: (?:debajo|abajo|(?:tras|después de) (?:la |el |este |esta )?(?:publicidad|anuncio)|(?:tras|después) del anuncio))?",
               r"(?:la noticia|el artículo|el texto) (?:continúa|sigue) (?:debajo|abajo|(?:tras|después de) (?:la |el )?(?:publicidad|anuncio)|(?:tras|después) del anuncio)",
               r"(?:continúa|sigue) (?:tras|después de) (?:la )?publicidad"),
    },
    # A video or audio player's interface (video.js, JW Player and the like) read as text.
    "player": {
        "en": (r"play(?: video)?", r"pause", r"replay", r"mute", r"unmute", r"full ?screen", r"exit full ?screen",
               r"now playing", r"up next", r"watch next", r"autoplay", r"skip ad", r"loaded: ?\d+(?:\.\d+)? ?%",
               r"(?:current time|duration|remaining time)(?: -?\d+:\d\d)?", r"-?\d+:\d\d(?: / \d+:\d\d)?", r"live",
               r"playback rate", r"captions(?: settings| off)?", r"subtitles(?: settings| off)?", r"chapters",
               r"descriptions(?: off)?", r"audio track", r"picture-in-picture", r"quality levels", r"close modal dialog",
               r"this is a modal window", r"(?:beginning|end) of dialog window", r"seek to live, currently (?:behind|playing) live",
               r"no compatible source was found for this media", r"stream type live", r"media player", r"video player",
               r"this video (?:is either unavailable or not supported in this browser|file cannot be played)",
               r"error code: ?\w+", r"technical details ?:?", r"watch(?: video| now)?", r"video", r"audio", r"listen(?: to this article)?",
               r"share video", r"copy video url", r"embed"),
        "de": (r"abspielen", r"wiedergabe", r"pausieren", r"stummschalten", r"ton (?:an|aus)", r"vollbild(?:modus)?",
               r"untertitel", r"video abspielen", r"jetzt ansehen", r"als nächstes", r"artikel anhören", r"vorlesen"),
        "fr": (r"lecture", r"lire la vidéo", r"couper le son", r"activer le son", r"plein écran", r"sous-titres",
               r"vidéo suivante", r"à suivre", r"regarder", r"écouter(?: cet article)?", r"vidéo"),
        "es": (r"reproducir(?: vídeo| video)?", r"pausa", r"silenciar", r"activar sonido", r"pantalla completa", r"subtítulos",
               r"a continuación", r"siguiente vídeo", r"ver (?:vídeo|video|ahora)", r"escuchar(?: (?:este artículo|noticia))?", r"vídeo"),
    },
    # A cookie or consent banner's buttons.
    "consent": {
        "en": (r"accept(?: all)?(?: cookies)?", r"reject(?: all)?(?: cookies)?", r"(?:manage|cookie) (?:settings|preferences|consent)",
               r"manage cookies", r"i agree", r"got it"),
        "de": (r"alle akzeptieren", r"akzeptieren", r"ablehnen", r"cookie-einstellungen", r"einstellungen verwalten", r"zustimmen"),
        "fr": (r"tout accepter", r"accepter(?: et fermer)?", r"tout refuser", r"refuser", r"paramétrer les cookies",
               r"gérer (?:mes|les) (?:choix|cookies|préférences)", r"j'accepte"),
        "es": (r"aceptar(?: todo| todas| cookies)?", r"rechazar(?: todo| todas)?", r"configuración de cookies",
               r"configurar cookies", r"gestionar (?:cookies|preferencias)"),
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
SECTION_HEADINGS = frozenset({"related", "comments", "comment_form", "tags", "share"})

# Labels of a picture's credit or source; the rule wants its separator (":", "©") after one.
CREDIT_LABELS = (
    "foto", "fotos", "photo", "photos", "bild", "bilder", "beitragsbild", "titelbild", "image", "images",
    "crédits? photos?", "crédits?", "credits?", "fuente", "imagen", "zdjęcie", r"fot\.", "source", "quelle",
)
# Labels of a paid post; the rule wants a separator ("-", ":", "|", ...) after one.
ADVERT_LABELS = ("anzeige", "werbung", "advertisement", "publicidad", "sponsored", "reklama")
# Month names as a dateline abbreviates or spells them (their first letters).
MONTH_STEMS = (
    "jan", "feb", "fév", "fev", "mar", "mär", "apr", "avr", "abr", "may", "mai", "maj", "mag", "jun", "jui", "giu",
    "jul", "lug", "aug", "ago", "aoû", "sep", "set", "oct", "okt", "ott", "nov", "dec", "dez", "déc", "dic", "ene",
    "gen", "sty", "lut", "kwi", "cze", "lip", "sie", "wrz", "paź", "lis", "gru",
)
# What a closing promo line names: a social channel, a newsletter, an app, a sign-up.
CALLS_TO_ACTION = (
    r"follow (?:us|\w+(?: \w+){0,3}) on", r"follow @", r"on (?:twitter|facebook|instagram|youtube)\b", r"newsletter",
    r"subscrib(?:e|ing)\b", r"sign up\b", r"click here", r"download (?:our|the)", r"(?:get|download) the [\w ]{0,30}app\b",
    r"folg(?:en sie|t) uns", r"abonnier", r"síguenos", r"suivez-nous", r"seguici", r"inscreva-se",
    r"(?:channel|canal|kanal) (?:on |de |en |auf )?(?:telegram|whatsapp|youtube)",
)
# Categories of ``PHRASES`` whose lines are chrome wherever they stand, between paragraphs too:
# a line made only of these is a label, a button or a marker, never a sentence of the article.
INNER_CATEGORIES = ("advert", "continue", "player", "consent", "share", "comment_form", "subscribe")
# Lines of a sign-up, follow, paywall or affiliate box inside the text (at a line's start): a
# form's prompts and fine print, a promo for a channel or an app, a paywall's notice, an
# affiliate disclosure. Short lines only (``chrome.MAX_PROMPT_WORDS``).
PROMPT_LINES = {
    "en": (r"enter your e-?mail", r"(?:get|have) [\w ']{0,50}(?:to|in|into) your inbox", r"your e-?mail(?: address)?\W*$", r"e-?mail address\W*$", r"by (?:signing up|subscribing|clicking)",
           r"thank(?:s| you) for (?:signing up|subscribing)", r"(?:please enter a )?(?:in)?valid e-?mail", r"sign up\W*$",
           r"get (?:our|the) [\w ]{0,30}newsletter", r"sign up (?:for|to) (?:our|the) [\w ]{0,30}(?:newsletter|briefing)\b",
           r"follow (?:us|@\w+|[\w.]+(?: [\w.]+){0,3}) on (?:twitter|x|facebook|instagram|youtube|tiktok|linkedin|threads|bluesky)\b",
           r"click here to (?:subscribe|sign up|follow|(?:get|download) (?:the|our) [\w ]{0,30}app\b)", r"(?:download|get) (?:our|the) [\w ]{0,30}app\b",
           r"if you (?:buy|purchase) (?:something|anything|a product) (?:through|via|from) (?:this|our|a) ", r"we may (?:earn|receive|get) (?:a )?(?:small )?(?:commission|share)",
           r"to (?:view|read|continue reading|unlock) (?:the |this )?(?:full|whole|rest of (?:the|this)) (?:story|article)",
           r"(?:if you(?:'re| are) )?already a (?:subscriber|member)", r"support (?:our|independent) journalism"),
    "de": (r"(?:ihre|deine) e-mail(?:-adresse)?\W*$", r"e-mail-adresse\W*$", r"e-mail-adresse eingeben", r"mit (?:der|ihrer) anmeldung",
           r"jetzt (?:kostenlos )?(?:anmelden|abonnieren)\W*$", r"(?:zum|für den) newsletter anmelden",
           r"(?:melden sie sich|abonnieren sie) (?:jetzt )?(?:für )?(?:unseren|den) [\w ]{0,30}newsletter", r"vielen dank für (?:ihre|deine) anmeldung",
           r"mit (?:der|ihrer|deiner) registrierung", r"mit unserem newsletter", r"folg(?:en sie|t) uns auf", r"sie sind (?:aktuell |derzeit )?nicht (?:eingeloggt|angemeldet)",
           r"(?:bei den|diese[rs]?) (?:verlinkungen|links?) (?:handelt es sich um|sind) affiliate", r"wenn (?:du|sie) über (?:diese[nr]? |einen )?links? "),
    "fr": (r"votre (?:adresse )?e-?mail\W*$", r"adresse e-?mail\W*$", r"saisissez votre (?:adresse )?e-?mail", r"en vous inscrivant", r"je m'inscris\W*$",
           r"inscrivez-vous (?:à|a) (?:notre|la) [\w ]{0,30}(?:newsletter|lettre)", r"abonnez-vous (?:à|a) (?:notre|la) [\w ]{0,30}(?:newsletter|lettre)",
           r"merci (?:pour votre|de votre) inscription", r"recevez (?:notre|la) [\w ]{0,30}newsletter",
           r"suivez-nous sur", r"téléchargez (?:notre|l')application", r"(?:cet article|la suite) est réservée? aux abonnés", r"déjà abonnée?",
           r"(?:cet article contient|ce contenu contient) des liens (?:sponsorisés|affiliés)"),
    "es": (r"tu (?:dirección de )?(?:correo|e-?mail)(?: electrónico)?\W*$", r"(?:dirección de )?correo electrónico\W*$", r"introduce tu (?:correo|e-?mail)", r"al (?:suscribirte|registrarte)",
           r"suscríbete (?:a|al) (?:nuestr[oa]|la|el) [\w ]{0,30}(?:newsletter|boletín)", r"regístrate\W*$",
           r"gracias por (?:suscribirte|registrarte)", r"recibe (?:nuestr[oa]|la|el) [\w ]{0,30}(?:newsletter|boletín)",
           r"síguenos en", r"descarga (?:nuestra|la) app", r"hazte (?:miembro|socio|suscriptor)", r"¿?ya eres (?:suscriptor|miembro|socio)",
           r"contenido exclusivo para (?:suscriptores|socios)"),
}
# Words in an element's class or id that name a role never article text: a newsletter or
# sign-up form, a disclaimer, an affiliate disclosure, a photo credit, a cookie notice.
ROLE_NAMES = (
    "newsletter", "disclaimer", "disclosure", "affiliate", "credit", "consent", "cookie", "registration", "sign-?up",
    "subscri", "(?<![a-z])cta(?![a-z])", "read(?:ing)?-?time", "author-?(?:box|bio|info)", "about-?(?:the-?)?author",
)
# WordPress lists a post's categories and tags among its classes ("category-newsletter"): these
# prefixes start a taxonomy class, which names the post's topic, not the element's role.
TAXONOMY_CLASS_PREFIXES = ("tag", "category", "categories", "topic", "post_tag", "section")
# Names that hosting platforms put in JSON-LD publisher / generator: not the site's name.
PLATFORM_NAMES = frozenset({"blogger", "blogspot", "wordpress", "wordpress.com", "medium", "substack", "tumblr", "ghost"})
