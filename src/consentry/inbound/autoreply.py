"""Automatic replies: RFC 3834 and the habits of real auto-responders.

Headers decide first (a human-looking text under ``Auto-Submitted: auto-generated`` is
still a machine's); then the subject prefixes mail clients put on out-of-office replies;
last, for responders that set neither, the body wording of vacation notices and ticket
acknowledgements in de, en, fr, es, it, nl, pl. An auto-reply is recorded; classify reads
its text for an objection too (one known only by its wording may be a person's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .parse import Parsed

__all__ = ["AutoReply", "analyse"]


@dataclass(frozen=True, slots=True)
class AutoReply:
    is_auto: bool
    # header | subject | declared (the text says a machine sent it, or that nobody reads
    # the mailbox) | text (only wording a person away might write too)
    strength: str = ""
    evidence: tuple[str, ...] = field(default_factory=tuple)


# Responders prepend a fixed label to the subject ("Automatic reply: …"). Only such a
# leading label counts: a campaign called "Holiday offers" gets human replies too.
_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?[\[【]?(?:"
    r"auto(?:matic|matische|matisch|matique|matica|mática|matiskt)?[ -]?(?:reply|antwort|"
    r"antwoord|réponse|reponse|risposta|respuesta|odpowied[zź]|svar|response)|"
    r"(?:réponse|risposta|respuesta|odpowied[zź]) automati\w+|"
    r"out of (?:the )?office(?: reply| notice| autoreply)?|ooo|abwesenheit(?:snotiz|smeldung)?|"
    r"abwesend|nicht im b[üu]ro|absence|absente?|fuori (?:sede|ufficio)|"
    r"fuera de (?:la )?oficina|ausente|afwezig(?:heid)?|nieobecno[sś][cć]|poza biurem|urlop|"
    r"(?:on )?vacation(?: reply)?|on leave|holiday notice|"
    # pt sv da no fi cs sk hu ro tr el ru uk hr sl
    r"resposta autom[áa]tica|fora do escrit[óo]rio|autosvar|automatiskt svar|fr[åa]nvar(?:o|ande)|"
    r"automatisk svar|frav[æa]r(?:ende)?|ikke p[åa] kontoret|automaattinen vastaus|poissa|"
    r"automatick[áa] odpov[ěe][ďd]|mimo kancel[áa][řr]|automatick[áa] odpove[ďd]|"
    r"automatikus v[áa]lasz|h[áa]zon k[íi]v[üu]l|r[ăa]spuns automat|otomatik (?:yan[ıi]t|cevap)|"
    r"ofis d[ıi][şs][ıi]nda|αυτόματη απάντηση|εκτός γραφείου|автоответ|автоматический ответ|"
    r"автоматична відповідь|автоматичен отговор|automatski odgovor|samodejni odgovor|odsoten|"
    # ga eu is fa sr id ms vi th hi
    r"freagra uathoibr[íi]och|erantzun automatikoa|sj[áa]lfvirkt svar|پاسخ خودکار|"
    r"аутоматски одговор|balasan (?:otomatis|automatik)|jawapan automatik|"
    r"tr[ảa] l[ờo]i t[ựu] [đd][ộo]ng|ตอบกลับอัตโนมัติ|स्वचालित (?:उत्तर|जवाब)|"
    # sq az uz sw tl eo mt ku
    r"jasht[ëe] zyr[ëe]s|p[ëe]rgjigje automatike|avtomatik cavab|ofisd[əe]n k[əe]narda|"
    r"avtomatik javob|nje ya ofisi|jibu la kiotomatiki|wala sa opisina|"
    r"a[ŭu]tomata respondo|ekster (?:la )?oficejo|risposta awtomatika|barra mill-uffi[ċc][ċc]ju|"
    r"bersiva otomat[îi]k|"
    # zh ja ko
    r"自動返信|自动回复|自動回覆|自動回復|不在(?:通知|のお知らせ)|자동\s?응답|부재\s?중"
    r")\s*(?::|：|-|–|\]|】|$)",
    re.I,
)
# Whole-subject acknowledgements of ticket systems.
_ACK_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:we(?:'ve| have)? received your (?:message|e-?mail|request)|"
    r"eingang(?:sbest[äa]tigung)?(?: ihrer (?:nachricht|anfrage|e-?mail))?|"
    r"ihre (?:anfrage|nachricht) (?:ist eingegangen|wurde (?:empfangen|erfasst))|"
    r"accus[ée] de r[ée]ception|acuse de recibo|conferma di ricezione|"
    r"ontvangstbevestiging|potwierdzenie otrzymania)\b",
    re.I,
)
# "This message was generated automatically" in the Nordic, Baltic and Central/Eastern
# European languages: said by a machine about its own message (the message named within
# a few words: "an automatically generated mail from you" in a person's text is rarer),
# in _TEXT and _DECLARED.
_MESSAGE_NOUN = (
    r"(?:meddelande\w*|meddelelse\w*|melding\w*|besked\w*|mejl\w*|e-?mail\w*|mail\w*|"
    r"svar\w*|viesti\w*|s[äa]hk[öo]posti\w*|vastaus|kiri|e-?kiri|s[õo]num\w*|vastus|"
    r"zi[ņn]ojum\w*|v[ēe]stul\w*|e-?pasts|atbild\w*|prane[šs]im\w*|lai[šs]k\w*|"
    r"atsakym\w*|zpr[áa]v\w*|spr[áa]v\w*|odpov[ěe]\w*|odpove\w*|[üu]zenet\w*|lev[ée]l\w*|"
    r"v[áa]lasz\w*|mesaj\w*|r[ăa]spuns\w*|sporo[čc]il\w*|odgovor\w*|poruk\w*)"
)
_MADE = (
    r"(?:automatiskt (?:genererat|skickat|skapat)|(?:genererats|skickats|skapats|genererat) "
    r"automatiskt|automatisk (?:genereret|generert|sendt|oprettet|opprettet)|"
    r"(?:genereret|generert|sendt|oprettet|opprettet) automatisk|"
    r"automaattisesti (?:luotu|l[äa]hetetty|generoitu)|"
    r"(?:luotu|l[äa]hetetty|generoitu) automaattisesti|"
    r"automaatselt (?:genereeritud|saadetud|loodud|koostatud)|"
    r"(?:genereeritud|saadetud|loodud|koostatud) automaatselt|"
    r"autom[āa]tiski (?:[ģg]ener[ēe]t|nos[ūu]t[īi]t|izveidot)\w*|"
    r"automati[šs]kai (?:sugeneruot|i[šs]si[ųu]st|sukurt)\w*|"
    r"(?:sugeneruot|i[šs]si[ųu]st|sukurt)\w* automati[šs]kai|"
    r"(?:vygenerov[áa]n|generov[áa]n|odesl[áa]n|odoslan|zasl[áa]n)[áa] automaticky|"
    r"automaticky (?:vygenerovan|generovan|odeslan|odoslan|zaslan)[áa]|"
    r"automatikusan (?:gener[áa]lt|k[üu]ld[öo]tt|k[ée]sz[üu]lt|gener[áa]l[óo]dott)|"
    r"(?:generat|trimis|creat) automat\b|"
    r"(?:samodejno|avtomatsko) (?:ustvarjeno|poslano|generirano)|"
    r"(?:ustvarjeno|poslano|generirano) (?:samodejno|avtomatsko)|"
    r"automatski (?:generiran|generisan|poslan|poslat|kreiran|stvoren)[aoi]?|"
    r"(?:generiran|generisan|poslan|poslat|kreiran|stvoren)[aoi]? automatski)"
)
_MACHINE_MADE = (rf"{_MESSAGE_NOUN}\W+(?:\w+\W+){{0,4}}?{_MADE}|"
                 rf"{_MADE}\W+(?:\w+\W+)?{_MESSAGE_NOUN}")
_TEXT = re.compile(
    r"\b(?:"
    # en
    r"(?:i am|i'm|i will be) (?:currently )?(?:out of (?:the )?office|away(?= (?:until|till|"
    r"from|through|on|for|and|with|\d))|on (?:annual )?leave|"
    r"on vacation|on holiday|travel+ing (?:until|till|through|from \S+ (?:to|until))|"
    r"out of town|off)|out of (?:the )?office|"
    r"(?:will|shall) (?:reply|respond|get back to you) (?:on|upon|after) my return|"
    r"limited access to (?:e-?mail|my e-?mail)|intermittent access to e-?mail|"
    r"thanks? (?:you )?for (?:your )?(?:e-?mail|message)\W+(?:we|i)(?:'ll| will| shall| aim to| "
    r"try to| endeavou?r to) (?:respond|reply|get back to you)|"
    r"we (?:have )?received your (?:message|e-?mail|request)|this is an automat(?:ed|ic) "
    r"(?:reply|response|message|confirmation|acknowledg)|"
    r"your (?:mail|e-?mail|message|enquiry|inquiry) has been received|"
    r"we will (?:reply|respond|get back)(?: to)?(?: you)? within \d+ (?:hours|(?:business |"
    r"working )?days)|"
    # a service desk's ticket: "Incident INC0048213 has been opened on your behalf"
    r"(?:incident|ticket|case|request|call)(?: (?:number|no\.?|#|id))? ?#?[A-Z]{0,6}-?\d{3,}\S* "
    r"(?:has been|was) (?:opened|created|logged|raised|registered|received)|"
    r"an? (?:analyst|agent|technician|support engineer) will (?:be in touch|contact you|"
    r"respond|get back to you)|"
    r"this is an automat(?:ed|ic) "
    r"(?:reply|response|message|confirmation|acknowledg)|your (?:ticket|request) (?:number|id)|"
    # de
    r"(?:ich bin|bin ich) (?:bis (?:zum|einschlie[sß]lich)? ?\S+ )?(?:nicht im (?:b[üu]ro|haus)|"
    r"abwesend|im urlaub|in urlaub|au[sß]er haus|nicht erreichbar)|"
    r"abwesend|urlaub bis|osterurlaub|sommerurlaub|nach meiner r[üu]ckkehr|"
    r"(?:ich bin|bin ich) vom \S+ (?:\S+ )?bis (?:zum )?\S+ (?:\S+ )?verreist|"
    r"diese adresse wird (?:nur noch|noch) bis\b|"
    r"(?:wegen|aufgrund (?:von|des|unseres)?) ?(?:urlaub|betriebsferien|praxisurlaub|"
    r"betriebsurlaub)s? (?:\S+ ){0,6}geschlossen|betriebsferien|"
    r"ab dem \S+ wieder (?:im b[üu]ro|erreichbar|da)|danach bin ich wieder|"
    r"dies ist eine automatische|automatisch (?:erstellt|generiert|versandt)|"
    r"ihre (?:nachricht|anfrage) (?:wurde|ist) (?:unter der nummer|bei uns eingegangen|"
    r"eingegangen|erfasst)|eingangsbest[äa]tigung|"
    # fr
    r"absente? du bureau|je suis absente?|en cong[ée]s?|de retour le|retour (?:le|pr[ée]vu)|"
    r"r[ée]ponse automatique|message automatique|nous avons (?:bien )?re[çc]u votre|"
    # es
    r"fuera de la oficina|estoy de vacaciones|estar[ée] ausente|respuesta autom[áa]tica|"
    r"hemos recibido su (?:mensaje|correo|solicitud)|"
    # it
    r"fuori (?:sede|ufficio)|in ferie|sar[òo] assente|rientro (?:il|in ufficio)|"
    r"risposta automatica|abbiamo ricevuto (?:il suo|la sua|il tuo)|"
    # "Grazie per la sua mail, le risponderò al più presto."
    r"grazie (?:per|della|dell') ?(?:la sua |la tua |la vostra |il suo |il tuo |il vostro )?"
    r"(?:mail|e-?mail|messaggio)\W+(?:(?:le|ti|vi) )?risponder(?:[òo]|emo) (?:al pi[ùu] presto|"
    r"quanto prima|appena possibile|a breve)|"
    # nl
    r"afwezig tot|ben (?:ik )?(?:met vakantie|afwezig|niet op kantoor)|"
    r"ik ben (?:met|op) (?:ouderschaps|zwangerschaps|bevallings)?verlof|"
    r"automatisch (?:antwoord|bericht)|w(?:e|ij) hebben uw (?:bericht|e-?mail|verzoek|vraag) "
    r"ontvangen|"
    # "In verband met Keti Koti is ons kantoor op maandag gesloten. Vanaf dinsdag
    # behandelen wij uw bericht zo snel mogelijk."
    r"(?:in verband met|i\.v\.m\.|wegens|vanwege)\b.{0,60}\b(?:is|zijn) (?:ons|onze) (?:kantoor|"
    r"kantoren|winkel|winkels|praktijk|zaak|bureau|balie)\b.{0,40}\bgesloten|"
    r"(?:behandelen|beantwoorden) w(?:e|ij) (?:uw|je|jouw) (?:bericht|e-?mail|mail|vraag|aanvraag) "
    r"(?:zo snel mogelijk|zo spoedig mogelijk|na (?:mijn|onze) terugkomst|zodra)|"
    # a ticket system's acknowledgement: the number it filed the message under
    r"(?:under|with|onder|unter|sous|con|sotto|pod) (?:the |der |dem |le |la |el |il |het |"
    r"de )?(?:ticket|case|vorgangs|"
    r"ticketnummer|ticket-?nr|ticketnumber)\w*(?: (?:number|nummer|no\.?|nr\.?|id|numéro))?"
    r"\s*:?\s*#?\s*[A-Z]{0,6}-?\d{3,}|ticketnummer\s*:?\s*#?\d{3,}|"
    # a ticket filed, a case number assigned, in the ticket system's words
    r"(?:has been|was|have been) (?:logged|registered|created|opened) (?:as|under|with) "
    r"(?:ticket|case|incident|request)|"
    r"(?:wurde|ist) unter der (?:vorgangs|ticket|fall|anfrage)-?nummer \S+ (?:registriert|"
    r"erfasst|angelegt)|"
    r"zg[łl]oszenie (?:zosta[łl]o )?zarejestrowan\w*|"
    r"(?:le |te )?(?:hemos|ha sido) asignad[oa] (?:el )?n[úu]mero de (?:caso|ticket|"
    r"incidencia|solicitud)|"
    r"(?:a [ée]t[ée] )?enregistr[ée]e? sous (?:le )?(?:num[ée]ro|ticket|dossier)|"
    # parental leave and the like
    r"(?:befinde mich|bin ich|ich bin) (?:\S+ ){0,5}in (?:elternzeit|mutterschutz|"
    r"sabbatical|kur|reha)\b|in elternzeit bis|im mutterschutz bis|"
    r"(?:i am|i'm) (?:currently )?on (?:parental|maternity|paternity|sick|sabbatical) leave|"
    r"en cong[ée] (?:maternit[ée]|parental|paternit[ée])|in (?:maternit[àa]|congedo)|"
    # pl
    r"przebywam na urlopie|jestem (?:na urlopie|nieobecn[ya]|poza biurem)|wracam\b|"
    r"odpowied[zź] automatyczna|wiadomo[sś][cć] automatyczna|otrzymali[sś]my (?:pa[nń]stwa|"
    r"twoj[aą]) wiadomo[sś][cć]|"
    # pt sv da no fi cs sk hu ro tr el ru uk hr sl
    r"estou (?:de f[ée]rias|ausente|fora do escrit[óo]rio)|resposta autom[áa]tica|"
    r"(?:jag [äa]r|[äa]r jag) (?:p[åa] semester|ledig|borta|tj[äa]nstledig)|"
    r"(?:jeg er|er jeg) (?:p[åa] ferie|fraværende|ikke p[åa] kontoret|bortreist)|"
    r"olen (?:lomalla|poissa)|lomalla \d|"
    r"jsem (?:na dovolen[ée]|mimo kancel[áa][řr]|nep[řr][íi]tomn[áa]?)|som (?:na dovolenke|"
    r"mimo kancel[áa]rie)|szabads[áa]gon vagyok|h[áa]zon k[íi]v[üu]l vagyok|"
    r"sunt (?:[îi]n concediu|plecat[ăa]?)|izindeyim|ofis d[ıi][şs][ıi]nday[ıi]m|"
    r"βρ[ίι]σκομαι (?:σε άδεια|εκτός γραφείου)|(?:я )?(?:в отпуске|вне офиса|не в офисе)|"
    r"(?:я )?у відпустці|na godi[šs]njem odmoru|na dopustu|в отпуск съм|съм в отпуск|"
    r"automatick[áa] odpov[ěe][ďd]|automatikus v[áa]lasz|r[ăa]spuns automat|"
    r"otomatik (?:yan[ıi]t|cevap)|автоматический ответ|автоматична відповідь|"
    + _MACHINE_MADE + r"|"
    # ga eu is fa sr id ms vi
    r"(?:t[áa] m[ée]|beidh m[ée]) (?:as an oifig|ar saoire)|as an oifig go dt[íi]|"
    r"bulegotik kanpo nago|oporretan nago|[ée]g er (?:[íi] fr[íi]i|fjarverandi|ekki vi[ðd])|"
    r"خارج از (?:دفتر|اداره) هستم|در مرخصی هستم|"
    r"(?:na godi[šs]njem odmoru|van kancelarije) sam|на годишњем одмору|ван канцеларије|"
    r"sedang (?:cuti|berlibur|di luar kantor)|di luar (?:kantor|pejabat)|sedang bercuti|"
    r"(?:đang )?ngh[ỉi] ph[ée]p|kh[ôo]ng c[óo] m[ặa]t (?:t[ạa]i|[ởo]) v[ăa]n ph[òo]ng|"
    # Outlook's recall of a message, sent in the sender's name
    r"would like to recall the message|m[öo]chte die nachricht .{1,200} zur[üu]ckrufen|"
    r"souhaite rappeler le message|desea recuperar el mensaje|vorrebbe richiamare il messaggio|"
    r"wil het bericht .{1,200} intrekken|"
    # ar he pt es: a ticket or a message received, a machine's message, on holiday
    r"تم استلام رسالتك|هذه رسالة آلية|رقم (?:ال)?تذكرة|הודעה אוטומטית|"
    r"(?:أنا|انا) خارج المكتب|لن (?:أتمكن|اتمكن) من الرد|(?:من|در) مرخصی (?:هستم|هستیم)|"
    r"خارج از دفتر|دفتر سے باہر|"
    r"recebemos (?:a )?sua (?:solicita[çc][ãa]o|mensagem|e-?mail)|registrad[ao] com o protocolo|"
    r"este endere[çc]o (?:de e-?mail )?(?:n[ãa]o est[áa] mais em uso|foi desativado|j[áa] n[ãa]o "
    r"[ée] (?:usado|utilizado))|"
    r"me encuentro de vacaciones|no estoy revisando (?:el|mi) correo|"
    r"the office is (?:now )?closed (?:for|until|over|on)|will reopen on|we'?ll get back to you "
    r"(?:then|when we reopen|on our return)|recibimos tu mensaje|(?:te|le) responderemos "
    r"(?:dentro de|a la mayor brevedad|en breve)|"
    r"sans acc[èe]s (?:r[ée]gulier )?[àa] (?:mes|ma) (?:e-?mails?|messagerie|courriels?)|"
    # sq az uz sw tl eo mt ku
    r"jam (?:jasht[ëe] zyr[ëe]s|me pushime|n[ëe] pushim)|nuk jam n[ëe] zyr[ëe]|"
    r"ofisd[əe]n k[əe]narday[ıi]m|m[əe]zuniyy[əe]td[əe]y[əe]m|"
    r"ta[ʼ'‘ʻ`]?tildaman|ofisda (?:emasman|yo[ʼ'‘ʻ`]?qman)|"
    r"niko (?:nje ya ofisi|likizoni|likizo)|"
    r"wala (?:ako )?sa opisina|naka-?(?:leave|bakasyon) ako|"
    r"mi (?:estas|restos) ekster (?:la )?oficejo|mi forestas (?:[ĝg]is|de)|"
    r"jien (?:barra mill-uffi[ċc][ċc]ju|fuq (?:leave|vaganza))|"
    r"ez (?:ne li ofîs[êe]|li betlaney[êe]) me|"
    # a mailbox that nobody reads any more, a message that says it was sent by a machine
    r"this (?:mail)?box is (?:no longer|not) (?:monitored|in use|active|read|checked)|"
    r"this (?:e-?mail )?address is no longer (?:monitored|in use|active|valid)|"
    r"(?:this|the) (?:message|e-?mail|reply) (?:was|has been|is) (?:sent|generated) "
    r"automatically|"
    r"dieses postfach wird nicht (?:mehr )?(?:[üu]berwacht|gelesen|betreut|abgerufen)|"
    r"diese (?:e-?mail-?)?adresse (?:ist|wird) (?:seit (?:dem )?\S+ )?nicht mehr (?:aktiv|"
    r"in gebrauch|g[üu]ltig|"
    r"gelesen|genutzt|benutzt|verwendet|abgerufen|betreut|[üu]berwacht)|automatisch erzeugt|"
    r"cette (?:bo[îi]te|adresse)(?: aux lettres| mail| e-?mail| de messagerie)? n'est plus "
    r"(?:active|utilis[ée]e|consult[ée]e|lue|relev[ée]e)|"
    r"(?:ce )?message (?:a [ée]t[ée] |est )?(?:envoy[ée]|g[ée]n[ée]r[ée]) automatiquement|"
    r"este buz[óo]n (?:ya )?no (?:est[áa] (?:operativo|activo|en uso)|se (?:lee|revisa|"
    r"utiliza|atiende))|esta (?:direcci[óo]n|cuenta)(?: de correo)? (?:ya )?no (?:est[áa] "
    r"activa|se utiliza|est[áa] en uso|se revisa)|"
    r"(?:este )?mensaje (?:ha sido |fue )?(?:generado|enviado) autom[áa]ticamente|"
    r"questa casella(?: di posta)? non [èe] pi[ùu] (?:attiva|monitorata|in uso|letta)|"
    r"messaggio (?:generato|inviato) automaticamente|"
    r"deze (?:mailbox|postbus) wordt niet (?:meer )?(?:gelezen|bewaakt)|dit (?:e-?mail)?adres "
    r"is niet meer in gebruik|automatisch gegenereerd|"
    r"dit (?:e-?mail)?adres wordt niet (?:meer|langer) (?:gebruikt|gelezen|bekeken)|"
    # da no sv fi et lv lt is
    r"denne (?:e-?mail|e-?post)?adressen? er ikke (?:l[æa]ngere|mere|lenger|lengre) "
    r"i (?:brug|bruk)|"
    r"(?:denna|den h[äa]r) (?:e-?post)?adress(?:en)? (?:anv[äa]nds inte l[äa]ngre|[äa]r inte "
    r"l[äa]ngre i bruk)|"
    r"je suis en d[ée]placement jusqu|je vous r[ée]pondrai (?:[àa]|d[èe]s) mon retour|"
    r"(?:ist|sind) (?:in den \w*ferien |bis \S+ )?nur eingeschr[äa]nkt (?:besetzt|erreichbar)|"
    r"sind wir wieder (?:regul[äa]r |wie gewohnt )?f[üu]r sie da|"
    r"t[äa]m[äa] (?:s[äa]hk[öo]posti)?osoite ei ole en[äa][äa] k[äa]yt[öo]ss[äa]|"
    r"see (?:e-posti )?aadress ei ole enam kasutusel|"
    r"[šs][īi] (?:e-pasta )?adrese vairs netiek (?:izmantota|lietota)|"
    r"[šs]is (?:el\. pa[šs]to )?adresas (?:nebenaudojamas|daugiau nenaudojamas)|"
    r"[þt]etta netfang er ekki lengur [íi] notkun|"
    r"esta caixa(?: de correio)? (?:n[ãa]o [ée] (?:mais )?(?:monitorizada|monitorada|lida)|"
    r"j[áa] n[ãa]o [ée] lida)|mensagem (?:gerada|enviada) automaticamente|"
    r"ta skrzynka nie jest (?:ju[żz] )?(?:monitorowana|obs[łl]ugiwana|czytana)|"
    r"wiadomo[sś][cć] (?:zosta[łl]a )?(?:wygenerowana|wys[łl]ana) automatycznie|"
    r"(?:это|данное) (?:письмо|сообщение) (?:было )?(?:отправлено|сформировано|создано) "
    r"автоматически|(?:этот|данный) (?:почтовый )?(?:ящик|адрес) (?:больше )?не "
    r"(?:используется|обслуживается|проверяется)|"
    r"(?:цей|це) (?:лист|повідомлення) (?:було )?(?:надіслано|створено|сформовано) "
    r"автоматично|автоматты түрде жіберілді"
    r")",
    re.I,
)
# Wording by which a text says that a machine sent it or that nobody reads the mailbox:
# a person writing "I'm away until Monday" does not write this about their reply.
_DECLARED = re.compile(
    r"\b(?:tai automatinis prane[šs]imas|[šs]is ir autom[āa]tisks zi[ņn]ojums|see on automaatne "
    r"(?:vastus|teade|s[õo]num)|ez egy automatikus (?:v[áa]lasz|[üu]zenet)|t[äa]m[äa] on "
    r"automaattinen (?:viesti|vastaus)|this is an automat(?:ed|ic)|(?:sent|generated) "
    r"automatically|automatically "
    r"(?:generated|sent)|(?:mail)?box is (?:no longer|not) (?:monitored|in use|read|checked)|"
    r"address is no longer (?:monitored|in use|active|valid)|your (?:ticket|request) "
    r"(?:number|id)|automatische (?:antwort|nachricht|e-?mail|benachrichtigung)|"
    r"automatisch (?:erstellt|erzeugt|generiert|versandt|verschickt|gesendet)|"
    r"(?:postfach|adresse) (?:ist|wird) (?:seit (?:dem )?\S+ )?nicht (?:mehr )?(?:aktiv|"
    r"in gebrauch|g[üu]ltig|gelesen|genutzt|benutzt|verwendet|abgerufen|betreut|[üu]berwacht)|"
    r"unter der nummer|(?:e-?post|e-?mail)?adress(?:en)? anv[äa]nds inte l[äa]ngre|"
    r"(?:e-?post|e-?mail)?adressen? er ikke (?:l[æa]ngere|lenger|mere) i (?:brug|bruk)|"
    r"(?:s[äa]hk[öo]posti)?osoite ei ole en[äa][äa] k[äa]yt[öo]ss[äa]|"
    r"wordt niet (?:meer|langer) gebruikt|"
    r"r[ée]ponse automatique|message automatique|(?:envoy|g[ée]n[ée]r)[ée]e? automatiquement|"
    r"n'est plus (?:active|utilis[ée]e|consult[ée]e|lue|relev[ée]e)|"
    r"respuesta autom[áa]tica|mensaje autom[áa]tico|(?:generado|enviado) autom[áa]ticamente|"
    r"risposta automatica|messaggio automatico|(?:generato|inviato) automaticamente|"
    r"automatisch (?:antwoord|bericht|gegenereerd|verzonden)|niet meer in gebruik|"
    r"odpowied[zź] automatyczna|wiadomo[sś][cć] automatyczna|(?:wygenerowan|wys[łl]an)a "
    r"automatycznie|resposta autom[áa]tica|mensagem autom[áa]tica|(?:gerad|enviad)a "
    r"automaticamente|автоматическ\w*|автоматичн\w*|автоматты|" + _MACHINE_MADE + r")|"
    r"自動|自动|자동",
    re.I,
)
# Scripts without spaces between words: no \b there.
_TEXT_CJK = re.compile(
    r"自動返信|自动回复|自動回覆|自動回復|自動送信|自动发送|系统自动发出|不在にしております|不在にしています|(?:出張|休暇|休み)"
    r"(?:のため|で)不在|休暇中|出差期间|休假期间|不在办公室|自动答复|자동\s?응답|부재\s?중|휴가\s?중|"
    # an address no longer in use, a send-only address
    r"(?:この|本|当)?(?:メール)?アドレスは(?:現在|既に|すでに|もう)?(?:使用|利用)されて(?:おりません|"
    r"いません)|送信専用(?:の|です|となって)|"
    r"(?:您的|你的)(?:邮件|郵件|来信|來信)已收到|"
    r"(?:此|该|該|本)(?:邮箱|郵箱|信箱|电子邮件地址|電子郵件地址|邮件地址|郵件地址)(?:已|已经|已經)?"
    r"(?:不再使用|停用|不再有效)|"
    r"(?:이|본|해당) ?(?:메일|이메일|e-?mail) ?주소는 (?:더 ?이상|이제) (?:사용(?:하지|되지) "
    r"않|사용하지 않)|발신 ?전용")


def analyse(msg: Parsed, body: str) -> AutoReply:
    """`body` is the reply text with quotes removed (reply.latest_reply)."""
    h = msg.headers
    ev: list[str] = []
    auto_sub = (h.get("auto-submitted") or "").strip().lower()
    if auto_sub and not auto_sub.startswith("no"):
        ev.append(f"Auto-Submitted: {auto_sub[:40]}")
    # X-Ricevuta: an Italian certified-mail (PEC) provider's receipt ("accettazione",
    # "avvenuta-consegna"), sent by the provider, never by the person
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply",
                 "x-ricevuta"):
        v = h.get(name)
        if v is not None and v.strip().lower() not in ("no", "false", "0"):
            ev.append(f"{name}: {v.strip()[:40]}")
    prec = (h.get("precedence") or "").strip().lower()
    if prec in ("auto_reply", "auto-reply", "bulk", "junk"):
        ev.append(f"Precedence: {prec}")
    if h.get("x-autogenerated") or h.get("x-auto-generated"):
        ev.append("X-Autogenerated")
    if (h.get("x-ms-exchange-inbox-rules-loop") or h.get("x-ms-exchange-generated-message-source")
            ) and h.get("x-auto-response-suppress"):
        ev.append("Exchange auto-reply headers")
    if any(p.ctype in ("message/disposition-notification",
                       "message/global-disposition-notification") for p in msg.parts):
        # A read receipt (RFC 8098): the recipient's client sent it, nobody wrote it.
        ev.append("disposition notification (read receipt)")
    if ev:
        return AutoReply(True, "header", tuple(ev))
    subject = re.sub(r"^\s*(?:(?:re|aw|wg|fw|fwd|sv|vs|tr|r|rif|odp)\s*:\s*)+", "", msg.subject,
                     flags=re.I)
    if _SUBJECT.search(msg.subject) or _ACK_SUBJECT.search(subject):
        return AutoReply(True, "subject", (f"subject: {msg.subject[:80]}",))
    short = body.strip()[:1_500]
    m = (_TEXT.search(short) or _TEXT_CJK.search(short)) if len(body.strip()) <= 1_500 else None
    if m:
        if _DECLARED.search(short):
            return AutoReply(True, "declared", (f"text: {m.group(0)[:60]}",))
        asks = _ASKS_US.search(short)
        if asks:
            # "bitte stoppt die Lieferung, bin im Urlaub bis 20.7.": a person away asks
            # us to hold something; no out-of-office text asks its reader that.
            return AutoReply(False, "", (f"away ({m.group(0)[:40]}) but asks us: "
                                         f"{asks.group(0)[:40]}",))
        return AutoReply(True, "text", (f"text: {m.group(0)[:60]}",))
    return AutoReply(False)


def automatic_wording(body: str) -> bool:
    """The text itself says what an automatic reply says ("I am out of the office",
    "this is an automatic reply"), in its first 1,500 characters."""
    short = body.strip()[:1_500]
    return bool(_TEXT.search(short) or _TEXT_CJK.search(short))


# A person asking the reader to hold, pause or cancel something (an out-of-office text
# asks its reader to write to someone else, never that).
_ASKS_US = re.compile(
    r"\b(?:please|pls|could you|can you|would you) (?:\w+ )?(?:pause|hold|cancel|stop|skip|"
    r"suspend|postpone|delay)\b|"
    r"\bbitte (?:\w+ )?(?:stoppt|stoppen sie|pausiert|pausieren sie|storniert|stornieren sie|"
    r"verschiebt|verschieben sie)\b|"
    r"\b(?:könnt ihr|können sie|könnten sie|könntet ihr) (?:\w+ ){0,4}(?:pausieren|stoppen|"
    r"stornieren|verschieben|aussetzen|zurückhalten)\b|"
    r"\bmerci de (?:suspendre|mettre en pause|reporter|annuler|bloquer)\b|"
    r"\b(?:por favor|podr[íi]an|pueden) (?:\w+ )?(?:pausar|suspender|aplazar|cancelar)\b|"
    r"\b(?:per favore|potete|potreste) (?:\w+ )?(?:sospendere|mettere in pausa|rimandare|"
    r"annullare)\b|"
    r"\b(?:graag|kunnen jullie|kunt u) (?:\w+ )?(?:pauzeren|stopzetten|uitstellen|annuleren)\b",
    re.I)
