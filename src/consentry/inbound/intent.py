"""Does a human reply mean "stop sending me advertising"?

Objection phrases are listed for de en fr es it nl pl (the development corpus's
languages) and, written from the languages rather than from samples, for pt sv da no fi
cs sk hu ro tr el ru uk bg hr sl lt lv et ca he ar zh ja ko; tests/data/written holds
replies in 32 languages written for consentry (scored blind once; README there).

Read sentence by sentence, on the sender's own words only (reply.latest_reply):
  - an *objection phrase* in first person or imperative ("bitte melden Sie mich ab",
    "unsubscribe me", "I object to", "darme de baja", "uit te schrijven") scores high;
  - a bare keyword sentence ("Opt out.", "Abmelden", "STOP") scores high too;
  - negation in front of the verb ("bitte NICHT abmelden", "auf keinen Fall austragen",
    "don't unsubscribe me") cancels it; "keep me on the list" counts against;
  - re-subscription ("wieder erhalten", "sign me up", "subscribe my colleague") and
    requests about another person's subscription count against;
  - a question about unsubscribing ("how do I unsubscribe?") is an uncertain wish: medium
    confidence, flagged for review; a polite request in question form ("could you take
    me off your list?", "können Sie mich abmelden?") is a request;
  - a report of a click or an unsubscription made by mistake ("I accidentally hit
    unsubscribe", "je me suis désabonnée par erreur") is not one;
  - a misspelt objection word counts as the word: "unsubcribe", "unsuscribe", and one
    slip in the others ("abmleden", "austragenn", "remoev"; typos.py);
  - a question about where we got the address is a complaint-like question: low
    confidence, flagged;
  - removing things that are not the person or the list ("remove the centrifuge from my
    basket", "aus dem Auftrag streichen") is not an objection.
A subject that is only an unsubscribe keyword ("Abmelden", "STOP", "unsubscribe please")
counts even with an empty body. The result carries the confidence and the evidence
(the sentence and the rule that fired).
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field

from . import typos

__all__ = ["Intent", "affirms_quoted_unsubscribe", "declines_continuing", "detect",
           "in_postscript"]


@dataclass(frozen=True, slots=True)
class Intent:
    confidence: float  # 0..1 that the sender objects to further advertising
    review: bool  # a human should look (uncertain, or about someone else)
    evidence: tuple[str, ...] = field(default_factory=tuple)
    rule: str = ""
    sentence: str = ""  # the body sentence that decided the confidence, if one did


def _rx(*alts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alts), re.I)


# Objection phrases. Each is specific enough that a match in the sender's own words is an
# objection unless negated, questioned or about someone else.
# What a German "keine … mehr" request stops: the mail, the offers, the advertising (not
# a paper invoice, a catalogue or a delivery).
_DE_MAIL_NOUN = (r"(?:[\w-]*mails?|[\w-]*newsletter\w*|angebot\w*|werbung|werbe\w*|infos?|"
                 r"informationen|nachrichten|zusendungen|aktionen|rabatt\w*|gutschein\w*|"
                 r"spam\w*|sachen|zeug)")
# Italian "remove" in the forms a request takes: infinitive (with clitic), voi and Lei
# imperatives ("cancellate", "levatemi", "rimuova", "tolga").
_IT_REMOVE = (r"(?:cancell|elimin|lev|stralci|depenn|radi)(?:are|ate|atemi|ateci|armi|arci|ami|"
              r"atelo|atela|arlo|arla|i|ino)|rimuov(?:ere|ete|etemi|eteci|ermi|erci|a|ano)|"
              r"togli(?:ere|ete|etemi|eteci|ermi|erci|ami)|tolga|tolgano")
_STRONG = _rx(
    # en
    r"\bunsubscribe\b", r"\bunsub\b",
    # the English verb with a German or Dutch ending ("bitte unsubscriben", "graag unsubben")
    r"\bunsubscriben\b", r"\bunsubben\b",
    r"\bopt(?:[- ]?out| me out)\b",
    r"\bremove (?:me|us|my (?:e-?mail )?(?:address|details|name|data)|my e-?mail)\b",
    # the assistant's register: "I am writing to kindly request that my email address be
    # removed from your marketing and promotional mailing list"
    r"\b(?:switch|turn) off (?:the |these |your |all )?(?:\w+ ){0,3}(?:e-?mails?|mails|"
    r"newsletters?)\b", r"\b(?:switch|turn) (?:the |these |your |all )?(?:\w+ ){0,3}(?:e-?mails?|"
    r"mails|newsletters?) off\b",
    r"\b(?:request|ask) that (?:my|our) (?:e-?mail )?(?:address|name|details|data)\b.{0,20}"
    r"\bbe (?:removed|deleted|taken off|unsubscribed)\b",
    # a stream of mail named: "No more review requests, please", "delete my date of birth
    # and my email address from your marketing database"
    r"\bno more (?:\w+ )?(?:requests|surveys|reminders|invitations|invites|promotions|promos|"
    r"alerts|newsletters?|e-?mails?|mails|marketing)\b",
    r"\b(?:delete|remove|erase) my (?:\w+ ){0,4}and my (?:e-?mail(?: address)?|address|data|"
    r"details)\b",
    # learners' English: "i not want recive no more", "STOP EMAIL TO THIS ADDRESS"
    r"\bi (?:do not|don't|dont|not|no) want (?:to )?(?:receive|get) (?:\w+ ){0,3}?(?:more|"
    r"any ?more|e-?mails?|mails?|newsletters?|these|this|them)\b",
    r"\bstop (?:the )?(?:e-?mails?|mails?|e-?mailing|mailing|sending)\b.{0,20}\b(?:to )?"
    r"(?:this|my|that) (?:e-?mail )?address\b",
    r"\btake (?:me|us|my (?:e-?mail )?address) off\b",
    # "take both of us off the prayer list", "remove me and my husband from …"
    r"\b(?:take|remove|delete|drop|strike) (?:both of us|the two of us|all of us|us both|us all|"
    r"(?:both )?our (?:names|addresses|e-?mail addresses)|me and my \w+|my \w+ and me)\b.{0,30}"
    r"\b(?:off|from)\b",
    r"\b(?:stop|cease) (?:sending|emailing|e-mailing|mailing|contacting|spamming)\b",
    r"\bstop (?:these|this|the|your) (?:e-?mails?|mails?|newsletters?|messages|marketing|spam)",
    # the mail named beside another channel: "stop the texts AND the emails"
    r"\bstop (?:the|your|all|these) (?:\w+ ){0,3}(?:and|&|as well as|or) (?:also )?(?:the |your "
    r"|all |these )?(?:e-?mails?|mails|newsletters?)\b",
    r"\bstellen sie (?:\w+ ){0,5}(?:e-?mails?|mails|newsletter|zusendung\w*|werbung) "
    r"(?:\w+ ){0,2}ein\b",
    r"\bbasta (?:[\w']+,? ){0,4}e (?:anche )?(?:le |i )?(?:e-?mail|mail|newsletter)\b",
    r"\barr[êe]t(?:er|ez) (?:\w+ ){0,5}et (?:aussi |[ée]galement )?(?:les |vos )?(?:e-?mails?|"
    r"mails|courriels|newsletters?)\b",
    r"\b(?:dejen|dejad|deje|dejar) de (?:\w+ ){0,5}y (?:tambi[ée]n )?(?:los |las |sus )?(?:correos|"
    r"e-?mails?|newsletters?)\b",
    # the customer account deleted: its data, and the mail to it, go
    r"\b(?:delete|close|remove|erase) (?:my|our) (?:customer |shop |user )?account\b",
    r"\b(?:l[öo]schen sie|l[öo]scht|schlie(?:ß|ss)en sie) (?:bitte )?(?:mein|unser) (?:kunden|"
    r"benutzer)?konto\b", r"\b(?:mein|unser) (?:kunden|benutzer)?konto (?:\w+ ){0,4}"
    r"(?:l[öo]schen|schlie(?:ß|ss)en|aufl[öo]sen)\b",
    r"\bsupprim(?:er|ez) (?:mon|notre) compte\b", r"\b(?:eliminar|borrar|cerrar|eliminen|borren) "
    r"(?:mi|nuestra) cuenta\b", r"\b(?:cancellare|eliminare|cancellate|eliminate) il (?:mio|"
    r"nostro) (?:account|profilo)\b", r"\b(?:mijn|ons) (?:klant)?account (?:\w+ ){0,2}"
    r"(?:verwijderen|opheffen)\b", r"\bverwijder (?:mijn|ons) (?:klant)?account\b",
    r"\busu(?:n[ąa][ćc]|[ńn]cie|[ńn]) (?:moje|nasze) konto\b",
    r"\bstop (?:all|any) (?:further |more |of )?(?:these |your |the )?(?:marketing |promotional |"
    r"advertising )?(?:e-?mails?|mails?|newsletters?|messages|marketing|spam|mailings)\b",
    r"\bno (?:more|further) (?:marketing |promotional |advertising )?(?:e-?mails?|mails?|"
    r"newsletters?|messages|marketing|advertising|spam|contact)\b",
    r"\b(?:do not|don't|dont|never) (?:send|e-?mail|mail|contact|write to) (?:me|us)\b",
    r"\b(?:i|we) (?:hereby )?object\b", r"\bobjection to\b",
    r"\b(?:i|we) (?:no longer|don't|do not|dont) (?:want|wish) to (?:receive|get|hear)",
    r"\b(?:i|we) (?:no longer|don't|do not|dont) want (?:your|these|this|any)\b",
    r"\bcancel (?:my|our|the) (?:subscription|newsletter)", r"\bdelete me\b",
    # learners' English: "cancel my subscribe of this newsletter"
    r"\bcancel (?:my|our) subscribe\b",
    r"\btake (?:me|us) out of (?:your|the|this) (?:mail?ing |e-?mail |distribution )?"
    r"(?:lists?|newsletters?|database)\b",
    r"\btake (?:the|this) (?:e-?mail )?address off\b",
    # it pt es: "smettere di mandarmi queste mail", "cancellarlo dalla vostra lista", "para
    # de mandar email pra mim", "ya no me manden correos", "dêem-me baixa", "cancelen mi
    # suscripción"
    r"\bsmett\w* di (?:mandar|inviar|spedir|scriver)\w*",
    r"\bcancellar(?:lo|la|mi|ci|e) (?:\w+ )?dalla (?:vostra |vs |)?(?:lista|mailing|newsletter)\b",
    r"\bpar(?:a|e|em|ar) de (?:me )?(?:mandar|enviar)\b",
    r"\b(?:ya )?no me (?:manden|env[íi]en|mandes|mand[ée]is|envi[ée]is) (?:m[áa]s )?(?:correos|"
    r"mails|e-?mails|emails|nada|newsletters?|boletines)\b",
    r"\bd[êe]em-me (?:a )?baixa\b", r"\bdar(?:-me)? (?:a )?baixa\b",
    r"\bcancel(?:en|e|ar|ad|em) (?:mi|la|a minha|minha) (?:suscripci[óo]n|subscri[çc][ãa]o|"
    r"assinatura)\b",
    # registers of English: "pack it in with the emails", "would you mind taking me off",
    # "leave me out of these", "count me out of the mailing list", "I'd rather not receive
    # these any more"
    r"\b(?:pack|knock|cut|give) it (?:in|off|out) with (?:the|these|your|all (?:the|these|your)) "
    r"(?:e-?mails?|mails|newsletters?|spam|messages)\b",
    r"\b(?:taking|removing) (?:me|us) (?:off|from)\b",
    r"\bleave (?:me|us) (?:out of|off) (?:these|(?:your|the|this|future) (?:mail\w*|"
    r"e-?mails?|newsletters?|lists?|mailing lists?|e-?mail lists?|promotions?|offers?))\b",
    r"\bcount (?:me|us) out (?:of|from)\b", r"\bdrop (?:me|us|my address) (?:from|off)\b",
    r"\b(?:i'd|i’d|i would|we'd|we’d|we would) (?:rather|prefer) not (?:to )?(?:receive|get) "
    r"(?:these|this|them|your \w+|any more|anymore)\b",
    # "please delete it from whatever list it's on", "no need to keep sending them"
    r"\b(?:delete|remove|take|strike|drop|erase)\b (?:it|this (?:e-?mail )?address|that "
    r"(?:e-?mail )?address|the (?:e-?mail )?address|my (?:e-?mail )?address)\b.{0,40}"
    r"\b(?:list|lists|database|system|records|mailing)\b",
    r"\bno need to (?:keep|continue) (?:sending|mailing|e-?mailing|writing)\b",
    # a preference for nothing: "my preference is to receive nothing at all", "Meine
    # Präferenz ist, gar nichts mehr von Ihnen zu bekommen"
    r"\b(?:receive|get|hear) nothing (?:at all|more|further)\b",
    r"\b(?:gar )?nichts mehr von (?:ihnen|euch|dir)\b.{0,15}\bzu (?:bekommen|erhalten|kriegen|"
    r"h[öo]ren)\b",
    r"\b(?:delete|remove|take|strike|drop) (?:him|her) (?:from|off)\b.{0,30}\b(?:system|list|"
    r"lists|database|records|mailing)\b",
    r"\b(?:you )?(?:can|may|could) stop sending\b",
    # "Lasst es einfach." alone: the mail, let be
    r"^(?:(?:dann|also|bitte) )?(?:lasst|lass|lassen sie) (?:es|das)(?: (?:bitte|doch|endlich|"
    r"halt))* (?:einfach|sein|bleiben)(?: (?:einfach|bitte|doch|sein|bleiben))*[.! ]*$",
    # de: "schreiben Sie mich nicht mehr an", "aus Ihrer Datenbank löschen", "das Abo Ihres
    # Newsletters kündige ich", "die Newsletter-Mails können Sie sich sparen"
    r"\bschreiben sie (?:mich|uns) (?:bitte )?nicht mehr an\b",
    r"\ban diese (?:e-?mail-?)?adresse nichts mehr zu (?:schicken|senden)\b",
    r"\baus (?:ihrer|eurer|der) (?:datenbank|kartei|kundendatei|adressdatei)\b.{0,12}"
    r"\bl(?:ö|oe)schen\b",
    r"\b(?:newsletter|\w*mails?|e-?mails?|werbung|werbe\w*|zusendungen)\b.{0,40}"
    r"\bk(?:ö|oe)nnen sie sich\b.{0,20}"
    r"\bsparen\b",
    r"\bk(?:ü|ue)ndige\b.{0,20}\b(?:abo|abonnement)\b.{0,10}\b(?:ihres|des|eures|vom) "
    r"newsletters?\b",
    r"\bnewsletter-?abo(?:nnement)?\b.{0,20}\bk(?:ü|ue)ndigen\b",
    # "hiermit kündige ich Ihren Newsletter", "Unterlassen Sie jede Zusendung von Werbung",
    # "ich will das nicht mehr in meinem Posteingang sehen", Art. 17 "meine Daten löschen"
    r"\bk(?:ü|ue)ndige (?:ich )?(?:hiermit )?(?:ihren|euren|den|diesen|meinen|deinen) "
    r"(?:e-?mail-?)?newsletter\b", r"\b(?:den|ihren|euren) newsletter (?:hiermit )?"
    r"k(?:ü|ue)ndigen\b",
    r"\bunterlassen sie (?:\w+ ){0,4}(?:jede |jegliche |die |weitere )?(?:zusendung|werbung|"
    r"e-?mails|kontaktaufnahme|werbe-?mails)\b",
    r"\b(?:zusendung|werbung|werbe-?mails|e-?mails) (?:\w+ ){0,4}zu unterlassen\b",
    r"\bnicht mehr in meinem (?:posteingang|postfach|e-?mail-?postfach|inbox) (?:\w+ )?"
    r"(?:sehen|haben|finden|bekommen)\b",
    r"\b(?:don't|do not|never) want (?:to see )?(?:these|this|them|your \w+) in my inbox\b",
    r"\b(?:alle|s[äa]mtliche|meine) (?:\w+ ){0,5}(?:gespeicherten )?(?:personenbezogenen )?"
    r"daten (?:[\w.§]+ ){0,6}(?:zu )?l(?:ö|oe)schen\b",
    # Swiss German: "Chönd ihr mich bitte us em Verteiler näh?"
    r"\b(?:us|vo|usem|vom) (?:em |dem |de )?(?:verteiler|newsletter|liste|mailing)\b.{0,12}"
    r"\b(?:n[äa]h|neh|n[äa]mme|striiche|streiche|l[öo]sche|abm[äa]lde)\b",
    r"\bbruuch\w* (?:die|d|eui) (?:mails|newsletter|e-?mails) n[öo]d\b",
    # fr, es: "cessez de m'écrire", "effacer … données personnelles", "borradlo de vuestra
    # base de datos"
    r"\b(?:cessez|arr[êe]tez) de (?:m|nous)['’]\s?(?:[ée]crire|envoyer|contacter|solliciter)\b",
    r"\b(?:effacer|supprimer)\b.{0,40}\bdonn[ée]es personnelles\b",
    r"\b(?:borr|elimin)(?:ad|en|e|a)(?:lo|la|me)\b.{0,15}\b(?:vuestra|su|tu|la) base de datos\b",
    # nl: "hou op met mailen", "stop met mailen"
    r"\b(?:hou|houd|houdt|stop|stopt) (?:nu |eens |toch )?(?:op )?met (?:dat |het |al dat |die )?"
    r"(?:mailen|e-?mailen|gemail|spammen|sturen van (?:mails|e-?mails|nieuwsbrieven))\b",
    r"\b(?:off|from) (?:all (?:of )?)?(?:your|the|this) (?:(?:mail?ing|e-?mail|distribution|"
    r"marketing|newsletter|contact|subscriber)(?: and (?:mail?ing|e-?mail|distribution|"
    r"marketing|newsletter))? )?lists?\b",
    # "remove all @example.com addresses from …", "remove the address x@y from …"
    r"\bremove (?:all |every |each |the |this |these )?(?:\S+ )?(?:e-?mail )?"
    r"(?:address(?:es)?|mailboxes|contacts)\b.{0,80}\b(?:from|off) (?:all |any )?(?:of )?"
    r"(?:your|the|this) (?:[\w-]+ (?:and )?){0,3}(?:lists?|mailings?|newsletters?|database|"
    r"distribution|mailing list)\b",
    r"\bnot interested\b.{0,30}\b(?:anymore|any more|any longer)\b",
    # calling it spam is an objection to receiving it
    r"^(?:this is|that's|it's|das ist|c'est du|esto es|questo [èe]|dit is)\s+(?:pure |just |"
    r"nur |reiner |du )?spam\b", r"\b(?:reported|marked|flagged) (?:it |this )?(?:as|to|for) "
    r"spam\b", r"\bals spam (?:gemeldet|markiert)\b",
    r"\bdelete (?:my|our) (?:e-?mail(?: address)?|address|data|details|personal data|"
    r"information|contact details)\b",
    r"\b(?:i'm|i am) (?:so |totally |really )?done with (?:these|your (?:e-?mails?|"
    r"newsletters?|mails?|messages|spam))\b",
    r"\bnot interested\W{0,3}(?:please )?(?:remove(?: me)?|unsubscribe(?: me)?|stop)[.! ]*$",
    # a bare request closing the sentence: "Enough already, stop." "No thanks, remove."
    r"(?:^|(?<=[,.!;]) ?)(?:please |just |bitte )?(?:stop(?: it)?|remove(?: me)?|"
    r"unsubscribe(?: me)?|abmelden|austragen)(?: please| now| bitte| danke| thanks)?[.! ]*$",
    # consent withdrawn, a GDPR objection (Art. 21) named as such, in the languages above
    r"\b(?:withdraw|revoke|revoking|withdrawing) (?:my |our )?consent\b",
    r"\b(?:derecho de oposici[óo]n|dret d'oposici[óo]|dereito de oposici[óo]n|"
    r"droit d'opposition|diritto di opposizione|direito de "
    r"oposi[çc][ãa]o|recht (?:van|op) bezwaar|prawo (?:do )?sprzeciwu|right to object)\b",
    r"\bsupresi[óo]n de (?:mi|mis) (?:direcci[óo]n|correo|e-?mail|datos)\b",
    r"\bno quiero que me (?:lleguen|env[íi]en|manden|sigan)\b",
    r"\btoglietemi\b", r"\btogli(?:ete|etemi|ermi)\b.{0,20}\b(?:lista|mailing|newsletter)",
    r"\bart(?:\.|icle|ikel|[íi]culo|icolo|igo|yku[łl])? ?21\b.{0,25}"
    r"\b(?:gdpr|dsgvo|rgpd|avg|rodo|gdpr|ds-?gvo)\b",
    r"\b(?:widerrufe|widerrufen) (?:hiermit )?(?:meine|unsere|die) (?:einwilligung|zustimmung)",
    r"\bziehe (?:hiermit )?meine (?:einwilligung|zustimmung) zur[üu]ck\b",
    r"\b(?:je )?retire (?:mon|le) consentement\b", r"\b(?:retiro|revoco) (?:mi|el) "
    r"consentimiento\b", r"\brevoco (?:il (?:mio )?)?consenso\b",
    r"\btrek (?:hierbij )?(?:mijn|de) toestemming in\b",
    r"\btrek (?:ik|wij|we) (?:hierbij )?(?:mijn|onze|de) toestemming\b.{0,40}\bin\b",
    r"\b(?:meine|unsere) (?:einwilligung|zustimmung)\b.{0,60}\bwiderrufe (?:ich|wir)\b",
    r"\b(?:retiro|revogo) (?:o )?(?:meu )?consentimento\b",
    r"\b[åa]terkallar (?:mitt|härmed mitt) samtycke\b", r"\btilbagekalder (?:mit )?samtykke\b",
    r"\bodvol[áa]v[áa]m (?:sv[ůu]j )?souhlas\b",
    # ... in word orders the phrase lists above do not take ("tilbagekalder jeg mit
    # eventuelle samtykke", "trekker herved mitt samtykke tilbake", "visszavonom a
    # hozzájárulásomat", "povlačim svoju privolu")
    r"\b(?:tilbagekald\w*|tr[æae]kker|[åa]terkalla\w*|drar tillbaka|peru(?:n|utan|tan)|"
    r"v[õo]tan|atsauc\w*|a(?:t[šs]|ts)auki\w*|odvol[áa]va\w*|visszavon\w*|[îi]mi retrag|"
    r"retrag|prekli[čc]\w*|povla[čc]\w*|opozivam)\b(?: \w+){0,4} (?:samtykke|samtycke|"
    r"suostumu\w*|n[õo]usolek\w*|piekri[šs]an\w*|sutikim\w*|souhlas\w*|s[úu]hlas\w*|"
    r"hozz[áa]j[áa]rul[áa]s\w*|beleegyez[ée]s\w*|consim[țţt][ăa]m[âa]nt\w*|acordul|"
    r"privolitev|soglasje|privol[uae]|suglasnost|pristanak)\b",
    r"\b(?:hozz[áa]j[áa]rul[áa]s\w*|beleegyez[ée]s\w*)(?: \w+){0,3} visszavon\w*",
    # a named objection to marketing or to the processing of one's data
    r"\b(?:indsigelse|innsigelse|inv[äa]ndning|inv[äa]nder|protesterer|protesterar|motsetter|"
    r"mots[äa]tter|vastustan|vastuv[äa]it\w*|iebilst\w*|prie[šs]tarau\w*|n[áa]mitk\w*|"
    r"namiet\w*|tiltakoz\w*|ugovarjam|prigovor\w*)\b.{0,100}\b(?:markedsf[øo]ring|"
    r"marknadsf[öo]ring|direktemarkedsf|personoplysning|personuppgift|personopplysning|"
    r"nyhedsbrev|nyhetsbrev|reklam|markkinoin|suoramarkkinoin|henkil[öo]tie|turundus|"
    r"otseturundus|m[āa]rketing|rinkodar|marketing|zpracov[áa]n|spracov[áa]n|adatkezel|"
    r"adataim|h[íi]rlev[ée]l|tr[žz]enj|obdelav|obrad)",
    # de
    r"\babmelden\b", r"\babmeldung\b", r"\babbestellen\b", r"\babbestellung\b",
    # the everyday imperatives: "Bitte keine Angebote mehr schicken", "Schickt mir bitte
    # nichts mehr", "Nehmt mal meine Adresse raus", "Löscht bitte meine Adresse", "komplett
    # raus aus allen Mailings", "aus Ihrer Kartei raus"
    r"\b(?:bitte|möchte ich|will ich|ich möchte|ich will|wir möchten|wir wollen|wollen wir|"
    r"möchten wir)\b.{0,30}\bkeine\b(?: [\w-]+){0,3} " + _DE_MAIL_NOUN
    + r"(?: [\w-]+){0,2} mehr\b(?! (?:verpass|versäum|missen))",
    r"\bkeine\b(?: [\w-]+){0,3} " + _DE_MAIL_NOUN + r"(?: [\w-]+){0,2} mehr (?:schicken|senden|"
    r"zusenden|zuschicken|schreiben|zumailen)\b",
    r"\b(?:wollen|will|möchte|mag|wollt) keine\b(?: [\w-]+){0,2} " + _DE_MAIL_NOUN
    + r"(?: [\w-]+){0,2} (?:mehr|meh)\b",
    r"\b(?:schickt|schicken sie|sendet|senden sie|schreibt|schreiben sie) (?:mir|uns) (?:bitte |"
    r"doch |einfach )?(?:nichts|nix|keine\w*)(?: [\w-]+){0,2} mehr\b",
    r"\b(?:bitte )?nichts mehr (?:schicken?|senden|zusenden|schreiben)\b",
    r"\b(?:nehmt|nehmen sie|tragt|tragen sie|streicht|streichen sie|werft|schmei(?:ß|ss)t)\b"
    r"(?: \w+){0,3} (?:mich|uns|meine (?:[\w-]*adresse|daten|e-?mail\w*)|die adresse|diese "
    r"adresse)\b(?: [\w-]+){0,6} (?:raus|heraus|runter|aus)\b",
    r"\b(?:löscht|löschen sie|entfernt|entfernen sie)\b(?: \w+){0,2} (?:meine|unsere|die|diese) "
    r"(?:[\w-]*adressen?|daten|e-?mail\w*|mail-?adresse)\b",
    r"\b(?:meine|unsere|die|diese) (?:[\w-]*adressen?|e-?mail\w*|daten)\b(?: \w+){0,3} "
    r"(?:deleten|löschen|entfernen|rausnehmen|austragen|streichen)\b",
    r"\braus aus (?:allen |dem |eurem |ihrem |eurer |ihrer |der |jedem )?(?:mailings?|"
    r"verteiler\w*|listen?|newslettern?|e-?mail-?listen?|kartei|datei)\b",
    r"\baus (?:ihrer|eurer|der) (?:kartei|datei|kundendatei|adressdatei|datenbank)\b.{0,15}"
    r"\b(?:raus|entfernen|löschen|streichen|nehmen)\b",
    r"\bbitte (?:beide |alle |meine |unsere |die |diese )?(?:[\w-]*adressen?|e-?mail-?adressen?) "
    r"raus\b",
    r"\bkein interesse mehr\b.{0,12}\bbitte (?:l[öo]schen|austragen|abmelden|entfernen)\b",
    r"\baustragen\b", r"\bmelden sie (?:mich|uns)\b.{0,60}\bab\b",
    r"\bmeldet (?:mich|uns)\b.{0,40}\bab\b", r"\btragt (?:mich|uns) (?:bitte |doch )?aus\b",
    # the formal register: "Von weiteren Zusendungen … bitte ich abzusehen", "ersucht, von der
    # Zusendung weiterer Newsletter Abstand zu nehmen", "ich verwahre mich gegen die
    # fortgesetzte Zusendung", "ersuche ich um Löschung der Adresse"
    r"\bvon (?:der |weiteren |jeder |jeglicher )?(?:weiteren )?zusendung\w*\b.{0,60}"
    r"\b(?:abzusehen|abstand zu nehmen)\b",
    r"\bverwahre mich gegen\b.{0,40}\b(?:zusendung\w*|werb\w*|e-?mails?|newsletter)",
    r"\bersuche\b.{0,20}\bum (?:die )?(?:l[öo]schung|austragung|streichung)\b",
    r"\bmeine (?:e-?mail-?)?adresse\b.{0,40}\b(?:entfernt|gel[öo]scht|gestrichen) wird\b",
    r"\ban (?:diese|meine|die|unsere) (?:e-?mail-?)?adresse nichts mehr\b",
    r"\bwiderrufe (?:ich|wir) (?:hiermit )?(?:meine|unsere|die) (?:einwilligung|zustimmung)",
    r"\bbrauche (?:ich|wir) (?:die|den|das|ihre|eure) (?:\w*news\w*|\w*newsletter\w*|\w*mails?|"
    r"werbung|post|infos?)\b.{0,40}\bnicht mehr\b",
    r"\btragen sie (?:mich|uns|die adresse|meine adresse|diese adresse|(?:alle |die |diese )?"
    r"(?:\w+ )?adressen)\b.{0,60}\baus\b(?!\s+(?:\S+\s+){0,3}ein\b)",
    r"\bnehmen sie (?:mich|uns|meine adresse|die adresse)\b.{0,60}\b(?:aus|von)\b",
    r"\b(?:aus|von) (?:ihrem|dem|ihrer|der|diesem|dieser) (?:e-?mail-?|newsletter-?)?"
    # not where the list is where something is taken from or entered into ("tragen Sie
    # mich aus der Liste ein", "aus der Liste ein Modell gewählt")
    r"(?:verteiler|mailingliste|liste|adressliste)\b(?!\s+(?:\S+\s+){0,3}ein\b(?!\s+f[üu]r))",
    # "aus Ihrem Newsletter" with someone to take out of it, not "der Code aus Ihrem
    # Newsletter"
    r"\b(?:mich|uns|adresse|e-?mail|mail-?adresse)\b.{0,60}\b(?:aus|von) (?:ihrem|dem|diesem|"
    r"eurem) (?:e-?mail-?)?newsletter\b",
    r"\b(?:streichen|l[öo]schen|entfernen) sie (?:bitte )?(?:mich|uns|meine (?:e-?mail-?)?"
    r"(?:adresse|daten|e-?mail))\b",
    r"\b(?:l[öo]scht|l[öo]sch|entfernt|streicht) (?:mich|uns|meine (?:e-?mail-?)?(?:adresse|"
    r"daten|e-?mail))\b",
    r"\bmeine (?:e-?mail-?)?(?:adresse|daten)\b.{0,30}\b(?:entfernen|l[öo]schen|streichen|"
    r"austragen)\b",
    r"\b(?:nehmt|nehmts|nimm|nehmen sie|nehmen s') (?:mich|uns) (?:bitte |doch |endlich |da )*"
    r"(?:raus|heraus)\b",
    r"\b(?:mich|uns) (?:bitte |doch |endlich |da )*(?:rausnehmen|herausnehmen|rauszunehmen|"
    r"herauszunehmen)\b",
    # the object first: "Den Newsletter brauch ich künftig nicht mehr"
    r"\b(?:den|die|das|ihren|euren|diesen|diese|eure|ihre) (?:[\w-]+-)?(?:newsletter|mails?|"
    r"e-?mails?|werbung|werbemails?|infos?|post|zuschriften)\b (?:\w+ )?(?:brauch(?:e|en)?|will|"
    r"m[öo]chte|wollen|m[öo]chten) (?:ich|wir) (?:\w+ ){0,2}nicht mehr\b",
    # a lawyer's letter: "es zu unterlassen, unserer Mandantin Werbung per E-Mail zuzusenden";
    # "I am again requesting erasure of my data and an end to all marketing e-mails"
    r"\bunterlassen\b.{0,80}\b(?:werbung|werbe-?e-?mails?|e-?mails?|newsletter)\b.{0,40}"
    r"\b(?:zuzusenden|zu senden|zuzuschicken|zu schicken)\b",
    r"\ban end to (?:all |any |your |the |these )?(?:\w+ )?(?:e-?mails?|mails|messages|"
    r"newsletters?|marketing|contact)\b",
    r"\berasure of (?:my|our) (?:personal )?data\b",
    r"\b(?:ich )?(?:will|m[öo]chte|brauche) (?:das|die|diese|euren|ihren|den|eure|ihre)"
    r"(?: \w+)? nicht mehr(?=\s*(?:[.,!;]|$))",  # not "… nicht mehr zurückschicken"
    r"\bschluss mit (?:den|deinen|euren|ihren|diesen|der|dem)? ?(?:e-?mails?|mails|newslettern?|"
    r"werbung|spam|zusendungen)\b",
    r"\b(?:lasst|lassen sie) (?:mich|uns) (?:endlich |bitte |doch )*in ruhe\b",
    r"\bh[öo]r(?:t|en sie|t'?s)? (?:endlich |bitte |bittsch[öo]n |doch )*auf\b.{0,40}"
    r"\b(?:zu )?(?:schicken|senden|"
    r"mailen|schreiben|kontaktieren|spammen|zuzuspammen|zuzuschicken)\b",
    r"\bstopp(?:en sie|t|e)? (?:den|die|diesen|diese|ihren|euren|ihre|eure) (?:newsletter|"
    r"werbung|mails|e-?mails|zusendung(?:en)?)\b",
    r"\b(?:bitte um|beantrage|verlange|fordere) (?:hiermit )?(?:die )?l[öo]schung\b",
    r"\bl[öo]schung (?:meiner|aller meiner|meines) (?:daten|adresse|e-?mail|kontos)",
    r"\b(?:mich|uns|meine (?:adresse|daten|e-?mail-?adresse)) (?:bitte )?(?:aus|von)\b.{0,40}"
    r"\b(?:streichen|l[öo]schen|entfernen|nehmen)\b",
    r"\bkein(?:e|en)? (?:weiteren? |neuen? )?(?:werbe-?)?(?:e-?mails?|mails|newsletter|\w*werbung|"
    r"nachrichten|zusendungen|post|werbemails?)(?: mehr)?\b",
    r"\bnicht mehr (?:zu)?(?:schicken|senden|zusenden|erhalten|bekommen|anschreiben|"
    r"kontaktieren|beliefern)\b",
    # learners' German: "bitte mich löschen aus die Liste", "nicht mehr an mich senden",
    # "ich will austreten aus Newsletter", "will auch weiter nicht bekommen", "Bitte
    # aufhören damit", "nicht für Werbung"
    r"\b(?:mich|uns|meine (?:e-?mail-?)?adresse|meine daten)\s+(?:bitte\s+)?(?:l[öo]schen|"
    r"streichen|entfernen|austragen|rausnehmen)\s+(?:aus|von)\b",
    r"\bnicht mehr an (?:mich|uns)\s+(?:zu\s+)?(?:senden|schicken|mailen|zusenden)\b",
    r"\b(?:sonst|[üu]berhaupt|gar|generell|k[üu]nftig|in zukunft) nichts mehr (?:zu)?(?:schicken|"
    r"senden|zuschicken|zusenden|mailen)\b",
    r"\b(?:erinnerungen|mails|e-?mails|newsletter|benachrichtigungen|werbung)\b.{0,40}"
    r"\b(?:abstellen|abschalten|deaktivieren)\b",
    r"\b(?:l[öo]schen|entfernen|streichen) sie\b(?: \w+){0,4} meine (?:e-?mail-?)?(?:adresse|"
    r"daten|e-?mail)\b",
    r"\baustreten\b.{0,20}\b(?:newsletter|verteiler|liste|mailingliste)\b",
    r"\b(?:will|m[öo]chte)\b(?: \w+){0,3} (?:weiter|weiterhin|mehr) nicht (?:mehr )?(?:bekommen|"
    r"erhalten|kriegen)\b",
    r"^(?:bitte )?(?:aufh[öo]ren|h[öo]ren sie auf|h[öo]rt auf)(?: damit| bitte| jetzt| sofort)*"
    r"[.! ]*$",
    r"\b(?:daten|e-?mail(?:-?adresse)?|adresse)\b.{0,40}\bnicht f[üu]r werbung\b",
    r"\bnicht, dass sie (?:\w+ )?(?:meine|meiner) (?:daten|e-?mail|adresse)\w* f[üu]r werbung",
    r"\bkein\w*(?: [\w-]+){0,3} (?:\w*werb\w*|\w*schreiben|e-?mails?|mails|zuschriften|"
    r"newsletter\w*|nachrichten)\b mehr zukommen\b",
    r"\bnicht mehr an (?:diese|meine|unsere|die|dieses|unser) (?:e-?mail-?|mail-?|sammel)?"
    r"(?:adresse|postfach|mailbox)\b.{0,20}\b(?:zu )?(?:schicken|senden|zusenden|verschicken|"
    r"mailen)\b", r"\bwiderspreche\b", r"\bwiderspruch\b",
    r"\b(?:abo|abonnement|newsletter)\b.{0,20}\b(?:beenden|k[üu]ndigen|stornieren|abbestellen)\b",
    r"\brunter von (?:der|ihrer|dieser) liste\b",
    r"\bh[öo]ren sie auf\b.{0,40}\b(?:zu )?(?:schicken|senden|mailen|schreiben|kontaktieren)\b",
    r"\bschicken sie mir (?:keine|nichts)\b",
    r"\b(?:schicken|senden|mailen|schreiben) sie (?:mir |uns |an (?:diese|meine|die|unsere) "
    r"(?:e-?mail-?)?adresse )?(?:bitte )?keine\b(?: [\w-]+){0,5} mehr\b",
    r"\b(?:zusendung|versand|verschickung|zustellung)\b(?=.{0,60}?\b(?:werb\S*|e-?mails?|mails|"
    r"newsletter\w*|angebot\w*|spendenaufruf\w*)\b).{0,120}\b(?:einzustellen|einstellen|"
    r"zu unterlassen|unterlassen)\b",
    r"\bstellen sie (?:bitte )?(?:die|jede|jegliche|den) (?:zusendung|versendung|verschickung|"
    r"versand)\b(?=.{0,60}?\b(?:werb\S*|e-?mails?|mails|newsletter\w*|angebot\w*)\b).{0,80}"
    r"\bein\b",
    r"\b(?:werbung|zusendungen|newsletter)\b.{0,30}\b(?:einstellen|unterlassen)\b",
    r"\binteressiert (?:mich|uns) nicht mehr\b",
    r"\b(?:will|m[öo]chte|wünsche|wuensche) (?:nichts mehr (?:von ihnen|erhalten|bekommen)|"
    r"kein(?:e|en)? (?:weiteren? )?(?:\w*werbung|newsletter|e-?mails?|mails|nachrichten|post von|"
    r"\w*empfehlungen|angebote)|"
    r"(?:ihre|eure|diese) (?:werbung|newsletter|e-?mails?|mails) nicht mehr)",
    # fr
    r"\bd[ée]sabonn", r"\bd[ée]sinscri", r"\bme d[ée]sinscrire\b",
    r"\bretir(?:er|ez|[ée]e?s?)\b.{0,60}\b(?:listes?|fichiers?|mailing|envois (?:commerciaux|"
    r"publicitaires|marketing)|communications? commerciales?|newsletters?)\b",
    r"\b(?:supprimer|supprimez|effacer|effacez)\b.{0,30}\b(?:mon adresse|mes donn[ée]es|moi|"
    r"cette adresse)\b",
    r"\bne (?:plus|m'envoyez plus|me contactez plus)\b",
    r"\bne (?:souhaite|veux|d[ée]sire|voudrais) plus (?:recevoir|rien|de|vos|ces|être)",
    r"\bje m'oppose\b", r"\bopposition\b",
    r"\b(?:enlev|ray)(?:ez|er)(?:-moi| moi)?\b.{0,30}\b(?:listes?|base|fichier|mailing|"
    r"mon (?:mail|e-?mail|adresse|courriel))",
    r"\bme sortir de (?:la|vos|votre|ta|tes) (?:liste|listes|fichier|base)\b",
    r"\bsors-moi de\b", r"\bj(?:e |')?veux plus (?:recevoir|de)\b",
    r"\bcesser\b.{0,30}\butilisation de mes (?:renseignements|donn[ée]es)",
    r"^(?:(?:svp|merci)[, ]+)?plus (?:de |d')(?:mails?|e-?mails?|courriels?|messages|pubs?|"
    r"newsletters?|publicit[ée]s?)(?: svp| merci| s'il vous pla[îi]t)?[ .!]*$",
    r"\b(?:arr[êe]t(?:ez|er|e)|cess(?:ez|er)) (?:les|vos|ces|tous (?:les|vos)|tout) "
    r"(?:envois|mails|e-?mails|courriels|messages|newsletters?)\b",
    r"\barr[êe]t(?:ez|er|e|es) (?:de |d')(?:m'|m |nous |me |vous )?m?(?:envoyer|[ée]crire|"
    r"contacter|"
    r"spammer|harceler|solliciter)",
    # es
    r"\b(?:dar(?:me|nos|se)?|d[ée]n(?:me|nos)?|d[ée]|doy|dadme|dadnos) de [bv]aja\b",
    r"\bbaja (?:de|del) (?:la |su |este |esta )?(?:lista|bolet[íi]n|newsletter|suscripci)",
    r"\bdesuscrib", r"\bdesapunt",
    r"\bsuprim(?:an|ir|a|áis|ais)\b.{0,30}\b(?:mis datos|mi (?:correo|direcci[óo]n|e-?mail))",
    r"\bno (?:vuelvan|volv[áa]is|vuelvas) a (?:utilizar|usar|enviar|mandar|escribir)\w*",
    r"\bsolicit\w* (?:la |mi )?baja (?:de (?:la |mi |esta |esa )?(?:direcci[óo]n|cuenta de "
    r"correo|correo|e-?mail|lista)|del (?:bolet[íi]n|newsletter|listado|env[íi]o))",
    r"\b(?:elimin(?:ar|en|ad)|elim[íi]nen|borr(?:ar|en|ad)|b[óo]rren|quit(?:ar|en|ad)|qu[íi]ten|"
    r"sac(?:ar|en)|s[áa]quen)(?:me|nos)?\b.{0,30}"
    r"\b(?:lista|listado|base de datos|mi (?:correo|direcci[óo]n))\b",
    r"\bno (?:me )?(?:env[íi]en|manden|mand[ée]is|envi[ée]is) m[áa]s\b",
    r"\bno (?:quiero|deseo) recibir\b", r"\bcancelar (?:la |mi )?suscripci[óo]n\b",
    r"\bdej(?:a|e|en|ad|ar|aran|asen|ara|ase|aras) de (?:mandar|enviar|escribir)(?:me|nos)?\b",
    # "No me escriban más", "no quiero más correos promocionales", "No quiero seguir
    # recibiendo este boletín", "quítenme de esto", "Borrame de una"
    r"\bno (?:me )?(?:escriban|escrib[áa]is|escribas) m[áa]s\b",
    r"\bno quiero m[áa]s (?:correos|mails|e-?mails|emails|promociones|ofertas|publicidad|"
    r"newsletters?|boletines)\b", r"\bno (?:quiero|deseo) seguir recibiendo\b",
    r"\bqu[íi]t(?:enme|ame|adme)\b.{0,10}\bde (?:esto|esta|la lista|su lista|ah[íi]|aqu[íi]|"
    r"todo)\b",
    # fr, everyday: "STOP LES MAILS", "virez-moi de votre liste", "ôtez-moi de vos envois",
    # "lâchez-moi avec vos newsletters", "me biffer de votre liste" (Swiss)
    r"\bstop (?:les|aux|à vos|vos|ces) (?:mails|e-?mails|courriels|newsletters?|envois|pubs?|"
    r"promos?)\b", r"\b(?:virez|[ôo]tez)[- ]?moi\b(?= (?:de|d'|des|du)\b)",
    # en, everyday: "quit emailing me", "knock it off", "lose my address", "No more please"
    r"\bquit (?:e-?mailing|mailing|sending|spamming|messaging|contacting)\b", r"\bknock it off\b",
    r"\blose my (?:e-?mail )?address\b",
    r"(?:^|(?<=[,.!;] ))no more,? (?:please|pls|plz|thanks|thx|ta)\b",
    # pl cs sk, everyday: "NIE WYSYŁAJCIE MI WIĘCEJ", "skreślenie mojego adresu", "zaprzestać
    # wysyłania", "vyradíte zo zoznamu", "Smažte ji", "vymazte moj email", "nechcem … dostávať"
    r"\bnie (?:wysy[łl]ajcie|przysy[łl]ajcie|przesy[łl]ajcie)\b",
    r"\bskre[śs]len\w*\b.{0,30}\b(?:adres\w*|list\w*)",
    r"\bzaprzesta[ćcń]\w*\b.{0,10}\bwysy[łl]\w*",
    r"\bvyrad(?:[íi]te|te|i[ťt])\b.{0,30}\bzoznam\w*",
    r"\bvy[řr]a(?:ďte|dte|d[íi]te)\b.{0,30}\bseznam\w*",
    r"\bsma[žz]te (?:ji|ho|m[ěe]|mou|m[ůu]j|tuto|tu|ten)\b",
    r"\bvyma[žz](?:te|ete)\b.{0,30}\b(?:e-?mail|adres\w*|datab[áa]z\w*)",
    r"\bnechcem\b.{0,20}\b(?:dost[áa]va[ťt]|prij[íi]ma[ťt])\b",
    r"\bl[âa]chez[- ]moi\b.{0,20}\b(?:newsletters?|mails|e-?mails|courriels|pubs?|promos?)",
    r"\bbiff(?:er|ez)\b.{0,30}\bliste\b",
    # pt, everyday: "CHEGA DE E-MAIL", "ME TIREM DISSO", "Apaguem o meu endereço", "cancelar o
    # recebimento", "sem mais e-mails", "quero sair da lista", "esses e-mails … não quero"
    r"\bchega de (?:e-?mails?|mensagens|propagandas?|spam|newsletters?|promo[çc][õo]es)\b",
    r"\b(?:me )?tir(?:em|e|a)(?:-me)? (?:disso|daqui|dessa lista|da lista|desta lista)\b",
    r"\bapag(?:uem|ue|ar)\b.{0,30}\b(?:endere[çc]o|e-?mail|dados|base de dados)\b",
    r"\bcancelar o recebimento\b", r"\bsem mais (?:e-?mails|mensagens)\b",
    r"\bquero sair da (?:sua |vossa |tua )?lista\b",
    r"\b(?:esses|estes|os) (?:e-?mails?|mensagens)\b.{0,30}\b(?:eu )?n[ãa]o quero\b",
    r"\bme opongo\b", r"\b(?:borrar|eliminar|quitar|sacar)(?:ais|[áa]is|an|a)\b.{0,30}"
    r"\b(?:direcci[óo]n|correo|lista|e-?mail)", r"\bb[óo]rr(?:enme|adme|eme|ame)\b",
    r"\bme borr[ée]is\b", r"\bsac(?:ame|adme|enme)\b.{0,20}\blista\b", r"\bdarme de baja\b",
    # it
    r"\bdisiscri", r"\bcancellami\b", r"\bcancellatemi\b", r"\bcancellarmi\b",
    r"\b(?:rimuovermi|togliermi)\b.{0,30}\b(?:lista|newsletter|mailing|elenco|database|"
    r"indirizz\w*)",
    r"\bbasta (?:con )?(?:le |queste |vostre |tutte queste )?(?:mail|e-?mail|newsletter|"
    r"pubblicit[àa]|spam)\b",
    r"\b(?:cancellar|rimuover|toglier|eliminar)(?:e|mi|ci)\b.{0,40}\b(?:lista|newsletter|"
    r"indirizzo|iscrizione|mailing)\b",
    r"\bnon (?:inviatemi|mandatemi|mi inviate|mi mandate|voglio (?:pi[ùu] )?ricevere|"
    r"desidero (?:pi[ùu] )?ricevere)\b", r"\bmi oppongo\b",
    r"\bnon (?:desidera|desidero|desideriamo|vuole|voglio|vogliamo) pi[ùu] ricevere\b",
    r"\b(?:vorrei|voglio|desidero|preferisco) non ricevere pi[ùu]\b",
    r"\bnon (?:utilizzare|usare|utilizzate|usate|utilizziate|usiate) pi[ùu] (?:il )?(?:mio )?"
    r"(?:indirizzo|e-?mail|contatto)",
    # "eliminate il mio indirizzo dalla newsletter", "levatemi sta mail dalla lista", "vi
    # prego di stralciare il mio indirizzo", "si richiede la cancellazione dell'indirizzo"
    r"\b(?:" + _IT_REMOVE + r")\b.{0,60}\b(?:dall[ae]|dai|dagli|dal|da) (?:vostr\w+ |vs\.? |"
    r"sua |loro |tutte le |)?(?:list[ae]|newsletter|mailing|elenc\w+|indirizzari\w*|database|"
    r"banca dati|banche dati|archivi\w*|contatti|destinatari|distribuzione|invii)\b",
    r"\b(?:" + _IT_REMOVE + r")\b (?:il mio|la mia|i miei|questo|questa|quest'|sta|st'|"
    r"l'|tutti gli|gli) ?(?:indirizz\w*|mail|e-?mail|contatt\w*|nominativ\w*|recapit\w*|casella|"
    r"dati)\b",
    r"\b(?:cancellazione|rimozione|eliminazione|esclusione)\b (?:immediata |definitiva )?"
    r"(?:del mio|della mia|dei miei|dei propri|dei nostri|dell'|del|della|di questo|di questa)"
    r" ?(?:indirizz\w*|nominativ\w*|contatt\w*|recapit\w*|mail|e-?mail|casella)\b",
    r"\b(?:cancellazione|rimozione|eliminazione|esclusione)\b.{0,60}\b(?:dall[ae]|dai|dal) "
    r"(?:vostr\w+ |sua )?(?:list[ae]|newsletter|mailing|elenc\w+|banca dati|database)\b",
    r"\bnon (?:mi |ci )?(?:mandate|inviate|spedite|scrivete|mandare|inviare|spedire|scrivere|"
    r"mandatemi|inviatemi|scrivetemi|mandarmi|inviarmi|scrivermi) pi[ùu]\b",
    r"\b(?:smettete(?:la)?|smettila|smettere|smetta|smettiate|finitela|piantatela|evitate) di "
    r"(?:mandar|inviar|spedir|scriver|intasar|riempir|tempestar)\w*",
    r"\b(?:revoco|ritiro|revochiamo|ritiriamo|revocare|ritirare) (?:il |quel |questo |ogni |"
    r"qualsiasi |qualunque |tale |il mio |il nostro |il proprio )?(?:mio |nostro |proprio )?"
    r"consenso\b", r"\brevoca (?:del|dei|di ogni|di qualsiasi) consens\w*",
    # a lawyer's "diffida": "Vi diffida dal proseguire nell'invio di comunicazioni"
    r"\bdiffid\w*\b.{0,40}\b(?:dal (?:proseguire|continuare|persistere|reiterare|"
    r"trattare|utilizzare|inviare)|dall'(?:invio|inviare|ulteriore|utilizz\w*|uso))",
    # nl
    r"\buitschrijven\b", r"\buit te schrijven\b", r"\bschrijf (?:mij|me|ons) uit\b",
    r"\bafmelden\b", r"\bmeld (?:mij|me|ons) af\b", r"\bverwijder (?:mij|me|ons|mijn)\b",
    r"\bgeen (?:nieuwsbrie\w*|e-?mails?|mails|reclame) meer\b", r"\bniet meer (?:ontvangen|"
    r"toesturen|sturen|mailen)\b", r"\bbezwaar\b",
    r"\bschrap (?:me|mij|ons|mijn)\b",
    # "Haal mijn adres uit uw bestand", "haal me er maar af", "graag van de lijst aub"
    r"\bhaal (?:me|mij|ons|mijn (?:e-?mail)?adres|m'n (?:e-?mail)?adres|mijn gegevens|dit "
    r"\S*adres|deze \S*adres|mijn naam)(?=\W).{0,40}(?:\ber (?:\w+ )?af\b|\beraf\b|"
    r"\buit (?:uw|jullie|je|het|de|jouw) \w*(?:bestand|lijst|database|systeem)\b|"
    r"\bvan (?:de|uw|jullie|je|het) \w*(?:lijst|bestand|database)\b)",
    r"\b(?:graag|aub|a\.u\.b\.?|svp|alsjeblieft|alstublieft|ajb)\b.{0,15}\bvan (?:de|jullie|uw|"
    r"je) (?:mailing|verzend|e-?mail|adres)?lijst\b",
    r"\bvan (?:de|jullie|uw|je) (?:mailing|verzend|e-?mail|adres)?lijst\b(?: af)?,? (?:graag|aub|"
    r"a\.u\.b\.?|svp|alsjeblieft|alstublieft|ajb)\b",
    r"\b\w*nieuwsbrie\w* (?:\w+ )?hoev(?:en|t|e) (?:wij|we|ik|ze) (?:niet|niet meer)\b",
    r"\b(?:\w*nieuwsbrie\w*|mailing\w*|e-?mails?|verzending)\b.{0,60}\bstop(?:zetten|gezet)\b",
    r"\bhaal (?:mij|me|ons|mijn (?:e-?mail)?adres)\b.{0,25}\b(?:van|uit) (?:de|jullie|uw|je|"
    r"deze) (?:mailing|verzend|e-?mail)?lijst\b",
    r"\b(?:van|uit) (?:de|jullie|uw|je|die|deze) (?:mailing|verzend|e-?mail)?lijst "
    r"(?:te )?(?:af|afhalen|halen|verwijderen|schrappen)\b",
    r"\b(?:wens|wil) (?:ik )?(?:niet langer|niet meer|geen)\b.{0,50}\b(?:te )?ontvangen\b",
    r"\bmijn (?:\w+ ){0,2}(?:persoonsgegevens|gegevens|e-?mailadres)\b.{0,30}"
    r"\b(?:te )?(?:wissen|verwijderen|schrappen)\b",
    # pl
    r"\bwypis(?:a[ćc]|anie|z|zcie)\b", r"\bwypisa[ćc] (?:mnie|si[ęe])\b",
    r"\busu(?:[ńn]|[ńn]cie|ni[ęe]cie|n[ąa][ćc])\b.{0,30}\b(?:list|adres|baz)",
    # ("rezygnuję z zamówienia": an order withdrawn, not the list)
    r"\brezygnuj[ęe]\b(?! z (?:zam[óo]wie\w*|zakupu|rezerwacj\w*|us[łl]ug\w*|umowy|wizyty))",
    r"\b(?:cofam|wycofuj[ęe]) (?:moj[ąa] )?zgod[ęe]\b",
    r"\bnie (?:chc[ęe]|życz[ęe] sobie) (?:\w+ ){0,2}(?:otrzymywa[ćc]|dostawa[ćc])\b",
    r"\bnie przysy[łl]a[jc]", r"\bsprzeciw\b",
    r"\bwypisywa[ćc]\b",
    # sv
    r"\bavregistrer\w*", r"\bavsluta (?:min |mitt )?(?:prenumeration|nyhetsbrev)\w*",
    r"\bavprenumerer\w*", r"\bta bort (?:mig|oss|min|mitt|adressen)\b",
    r"\bsluta (?:skicka|mejla|maila|skriva)\b", r"\bstryk (?:mig|oss|min|mitt)\b",
    r"\bjag vill inte (?:l[äa]ngre )?(?:ha|f[åa]|ta emot)\b",
    r"\binga fler (?:mejl|mail|e-?post|nyhetsbrev|utskick)\b", r"\bradera (?:mig|min)\b",
    # da, no
    r"\bafmeld\w*", r"\bavmeld\w*", r"\bmeld(?:e)? (?:meg|oss|mig|os) (?:av|fra)\b",
    r"\bfjern (?:mig|meg|os|oss|min|mine)\b", r"\bslet(?:te)? (?:mig|min|mine|os)\b",
    r"\bslett (?:meg|min|mine)\b", r"\bta (?:meg|oss) (?:av|ut)\b",
    r"\bslett?e? (?:e-?post(?:adressen)?|e-?mail(?:adressen)?|adressen|mailadressen|"
    r"opplysningene|oplysningerne|dataene|data) (?:min|mine|mitt|mit)\b",
    r"\bstop (?:med at )?(?:sende|skrive)\b",
    r"\bslutt (?:med )?(?:[åa] )?(?:sende|senda|skrive|skriva)\b",
    r"\btag(?:e)? (?:mig|os) (?:af|ud af) (?:listen|jeres (?:mailing)?liste|mailinglisten|"
    r"nyhedsbrevet)\b", r"\bingen vits i [åa] (?:fortsette [åa] )?sende\b",
    r"\bingen grund til at (?:blive ved med at )?sende\b",
    r"\bjeg (?:vil|[øo]nsker) ikke (?:l[æa]ngere |lenger |mere |mer )?(?:at |[åa] )?"
    r"(?:modtage|motta|have|ha|f[åa])\b",
    r"\bikke (?:flere|mere|mer) (?:mails|e-?mails?|e-?poster?|nyhedsbreve?|nyhetsbrev|"
    r"reklamer?)\b",
    # pt
    r"\bdescadastr\w*", r"\bdesinscrev\w*", r"\bdesinscri[çc][ãa]o\b",
    r"\bn[ãa]o precisa (?:mais )?(?:me )?(?:mandar|enviar)\b",
    r"\b(?:deixarem|deixar|deixem) de (?:me )?(?:enviar|mandar)\b",
    r"\bcancel(?:ar|em|e) (?:a |minha )?(?:inscri[çc][ãa]o|assinatura|subscri[çc][ãa]o)\b",
    r"\b(?:remov|retir|exclu|apag|tir)(?:a|e|em|am|ar|ir|assem|essem|issem|asse|esse|isse)"
    r"(?:-me)?\b.{0,40}"
    r"\b(?:lista|cadastro|base de dados|mailing|newsletter)\b",
    r"\b(?:parem|pare|deixem|deixe) de (?:me )?(?:enviar|mandar)\b",
    r"\bn[ãa]o (?:me )?(?:enviem|mandem|envie|mande) mais\b",
    r"\bn[ãa]o (?:quero|desejo) (?:mais )?receber\b", r"\b(?:me )?oponho\b",
    r"\bn[ãa]o tenho (?:mais )?interesse em (?:continuar a )?receber\b",
    # fi
    # ("tilaus" is an order too: one with a number is not the newsletter)
    r"\bperu(?:n|a|kaa|tan|ttaa)\b.{0,30}\btilau(?!\w*(?:\s+\S+){0,2}?\s*(?:nro|n:o|numero|"
    r"#|[\w-]*\d{3}))", r"\btilau\w* peru\w*",
    r"\bpoista(?:kaa|a)? (?:minut|mut|mua|minua|meid[äa]t|osoitteeni|s[äa]hk[öo]postiosoitteeni|"
    r"tietoni)\b", r"\bpoista\w*\b.{0,30}\blistalta(?:nne)?\b",
    r"\bpostituslistalta\w*", r"\bpoistamaan (?:minut|minua|osoitteeni|tietoni|nimeni|"
    r"s[äa]hk[öo]postiosoitteeni)\b", r"\bkiell[äa]n\b.{0,60}\b(?:suora)?markkinoin\w*",
    r"\blopet(?:a|takaa)\b.{0,30}\bl[äa]hett[äa]",
    r"\b[äa]lk[äa][äa] (?:en[äa][äa] )?l[äa]hett[äa]k[öo]", r"\ben halua (?:en[äa][äa] )?"
    r"(?:vastaanottaa|saada)\b",
    # cs, sk
    r"\bodhl[aá][sš]\w*", r"\b(?:odstra[nň]te|vyma[zž]te|sma[zž]te|vy[řr]a[dď]te)"
    r" (?:m[ěe]|mou|m[ůu]j|moji|n[aá]s|ma|m[nň]a|moju|n[aá]s)\b", r"\bnepos[ií]lejte\b",
    r"\bneposielajte\b", r"\bp[řr]esta[nň]te\b.{0,20}\b(?:pos[ií]la|zas[ií]la)",
    r"\bprest(?:a[nň]te|a[nň])\b.{0,20}\b(?:posiela|zasiela)",
    r"\bnechci (?:u[zž] )?(?:dost[aá]vat|odeb[ií]rat)\b",
    r"\bnechcem (?:u[zž] )?(?:dost[aá]va[tť]|odobera[tť])\b",
    r"\bzru[sš](?:it|te) (?:odb[eě]r|p[řr]ihl[aá][sš]en)",
    # hu
    r"\bleiratkoz\w*", r"\bleiratni\b", r"\biratkoz\w* le\b",
    r"\bt[öo]r[öo]ljenek\b.{0,30}\b(?:list[áa]r[óo]l|adatb[áa]zis\w*|c[íi]mlist\w*)",
    r"\bt[öo]r[öo]lj(?:e|[ée]k|[ée]tek)\b.{0,40}"
    r"\b(?:c[íi]m|list|adat|e-?mail)\w*", r"\bne k[üu]ldj(?:enek|[ée]k|[ée]tek|e)\b",
    r"\bnem (?:k[ée]rek|szeretn[ée]k) (?:t[öo]bb|tov[áa]bbi)? ?(?:h[íi]rlevel|e-?mail|lev[ée]l|"
    r"rekl[áa]m)\w*",
    # ro
    r"\bdezabon\w*", r"\bnu (?:mai )?(?:vreau|doresc) s[ăa] (?:mai )?primesc\b",
    r"\bnu(?:-mi| [îi]mi) mai trimite\w*", r"\bm[ăa] opun\b",
    r"\b[îi]ncet(?:a[țţt]i|a[țţt]i de [îi]ndat[ăa])\b.{0,40}\b(?:comunic|trimite|mesaj|"
    r"e-?mail|newsletter)",
    r"\b(?:[șşs]terge[țţt]i|scoate[țţt]i|elimina[țţt]i)(?:-m[ăa])?\b.{0,40}\b(?:list|adres|baz)",
    # tr
    r"\babonelikten? [çc][ıi]k\w*", r"\babonel[ıi]?[gğ]imi (?:iptal|sonland[ıi]r)\w*",
    r"\blisten?(?:iz)?den (?:[çc][ıi]kar(?:[ıi]n|[ıi]n[ıi]z|abilir)|sil(?:in|iniz|ebilir)|"
    r"kald[ıi]r(?:[ıi]n|[ıi]n[ıi]z|abilir))", r"\bg[öo]ndermeyin\b",
    r"\b(?:mail\w*|e-?posta\w*|b[üu]lten\w*|reklam\w*|bildirim\w*|haber\w*|ileti\w*|"
    r"kampanya\w*|bunlar\w*)\b.{0,40}\balmak istemiyorum\b",
    # el
    r"\bδιαγρ[άα]ψ\w*", r"\bαπεγγρ[άα]\w*", r"\bαπεγγραφ\w*",
    r"ανακαλ[ώω] (?:τη |την )?συγκατ[άα]θεσ[ήη] μου",
    r"διαγραφ[ήη] (?:της |του )?(?:διε[υύ]θυνσ[ήη]ς|email|e-mail|ηλεκτρονικ\w*) μου",
    # sk cs sl hr pl: "žiadam o vymazanie mojej emailovej adresy", "izbrišete iz vaše baze",
    # "moju e-mail adresu uklonite s vaše liste", "Nie życzę sobie więcej takich wiadomości"
    r"\b(?:[žz]iadam|[žz][áa]d[áa]m|prosim|pros[íi]m) o (?:vymazanie|vymaz[áa]n[íi]|"
    r"odstr[áa]nenie|odstran[ěe]n[íi]|zmazanie|smaz[áa]n[íi])\b",
    r"\bizbri[šs]ete\b.{0,40}\b(?:baz|sezn|list|evidenc)", r"\bmi ne po[šs]iljate ve[čc]\b",
    r"\b(?:uklonite|izbri[sš]ite|obri[sš]ite|skinite)\s+(?:s|sa|iz)\s+(?:va[sš]e\s+|na[sš]e\s+)?"
    r"(?:liste|popisa|baze|adresara|mailing)",
    r"\bnie [żz]ycz[ęe] sobie (?:wi[ęe]cej|dalszych|takich|kolejnych|otrzymywa)",
    r"\bμη(?:ν)? (?:μου |μας )?(?:το |τα )?(?:στ[έε]λνετε|ξαναστε[ίι]λετε)\b",
    r"\bδεν θ[έε]λω να ξαναδ[ώω]\b", r"δικα[ίι]ωμα εναντ[ίι]ωσης", r"\bεναντι[ώω]νομαι\b",
    r"\bδεν (?:θ[έε]λω|επιθυμ[ώω]) (?:να )?(?:λαμβ[άα]νω|παραλαμβ[άα]νω)",
    r"\bαφαιρ[έε]στε (?:με|τη)\b", r"\bσταματ[ήη]στε\b.{0,20}\bστ[έε]λν",
    # Greeklish
    r"\bstamat(?:iste|hste|a|isete|hsete) na (?:mou |mas )?(?:stelnete|steilete|stelneis)\b",
    r"\bmh?n (?:mou |mas )?(?:ksana)?(?:stelnete|steilete)\b",
    # ru, uk, bg
    r"\bотпи[сш]\w*", r"\bвідпи[сш]\w*",
    r"\b(?:удалите|уберите|исключите|видаліть|приберіть|премахнете|изтрийте) "
    r"(?:меня|мене|ме|мой|мою|мій|моя|моят)\b",
    r"\bне (?:присылайте|отправляйте|шлите|пишите|надсилайте|пишіть|ми изпращайте|"
    r"изпращайте)\b", r"\bпрекратите (?:присылать|отправлять|рассылку|слать)\b",
    r"\bне (?:хочу|хочу більше|желая) (?:больше |більше |повече )?(?:получать|отримувати|"
    r"да получавам)\b", r"\bизтриете (?:имейла|адреса|e-?mail)\w* ми\b",
    r"\bspri(?:6|sh)te\b.{0,30}\b(?:mail|imeil|pisma)\w*",
    r"\b(?:a[tť]|a[tť] u[zž]) mi (?:to |ty maily |ty emaily )?(?:u[zž] )?nechod[ií]\b",
    r"\bне (?:присылать|отправлять|высылать|надсилати|присилати|слати)\b",
    # consent withdrawn, sending to stop: "отзываю согласие", "прошу прекратить направление
    # рассылок", "припиніть надсилати", "оттеглям съгласието си", "изтрийте имейл адреса ми"
    r"\b(?:отзываю|відкликаю|оттеглям) (?:сво[её] |мо[её] |свою |мою |своето |моето )?(?:согласие|"
    r"згоду|съгласие(?:то)?)",
    r"\bпрекратить (?:направление|отправку|рассылку|присылать|отправлять)\b",
    r"\b(?:припиніть|припинити|перестаньте) (?:надсилати|відправляти|слати|розсилку)\b",
    r"\b(?:спрете|престанете) да (?:ми )?(?:изпращате|пращате)\b",
    r"\b(?:изтрийте|премахнете) (?:\w+ )?адреса ми\b",
    r"\b(?:удалить|исключить|убрать|видалити|вилучити|прибрати) (?:меня|мой|мою|мене|мій|мою)\b",
    r"\b(?:вилучіть|видаліть|приберіть|удалите|исключите|уберите)\b.{0,30}"
    r"\b(?:з|із|из) (?:розсилки|списку|рассылки|списка)\b",
    # "Снимите меня с подписки", "прошу припинити надсилання", "стерти мою адресу"
    r"\bснимите (?:меня|нас)\b", r"\bвыключите (?:меня|мой адрес|этот адрес)\b",
    r"\b(?:припинити|припиніть|припинення) (?:надсилання|відправлення|розсилання|розсилки)\b",
    r"\b(?:стерти|зітріть|стеріть|видаліть|видалити|удалите|удалить) (?:мою|мої|мій|мои|мой) "
    r"(?:\w+ )?(?:адрес\w*|дан[іи]\w*|e-?mail|імейл|имейл|пошт\w*|почт\w*)",
    # Belarusian: "Адпішыце мяне", "Выключыце … гэты адрас са спісу", "больш не дасылаць"
    r"\bадпіш\w*", r"\b(?:выключыце|выдаліце|прыбярыце) (?:мяне|мой|маю|гэты адрас)\b",
    r"\b(?:са|з) спісу (?:рассылкі|рассылак|рассылкаў)\b", r"\bне дасылай(?:це)?\b",
    r"\bбольш не (?:дасылаць|дасылайце|пішыце)\b",
    # ru, uk, be in Latin letters: "otpishite menya", "udalit' moi adres", "vidpyshit mene",
    # "vydalicie maju adrasu"
    r"\botpi[sš](?:i|ite|hi|hite)\b", r"\bvidpy[sš](?:it|ity|i|hit|hity)\b",
    r"\budali(?:t'?|te) (?:moi|moy|moj|menya|moyu|moju)\b",
    r"\bne (?:prisylai|prisylaite|prisylajte|prisylayte|prysylaite|nadsylaite|nadsylajte)\b",
    r"\b(?:udali\w*|isklyuchi\w*|uberi\w*|vydali\w*|prybery\w*|vyklyuchi\w*)\b.{0,30}"
    r"\b(?:iz|z|ot|vid) (?:vashei |vashey |vashoi |etoi |etoy |tsiiei |va[šs]aj |hetaj )?"
    r"(?:rassylki|rozsylky|rassy[łl]ki|spiska|spysku)\b", r"\bvydalic(?:ie|e)\b",
    # bg in Latin letters: "otpishete me ot tozi spisuk i poveche ne mi pishete"
    r"\botpi(?:sh|[sš])ete me\b",
    r"\b(?:poveche|veche) ne mi (?:pi(?:sh|[sš])ete|prashtai\w*|izprashtai\w*)\b",
    r"\bne mi (?:pi(?:sh|[sš])ete|prashtaite|prashtajte|izprashtaite) (?:poveche|veche)\b",
    # bg, mk: "възразявам срещу обработването … за директния маркетинг", "заличете имейл
    # адреса ми", "повлекувам согласноста", "избришете ги моите податоци"
    r"\bвъзразявам\b.{0,80}\bмаркетинг", r"\bзаличете (?:\w+ )?(?:адреса ми|ме|данните ми|"
    r"личните ми данни)\b",
    r"\bповлекувам (?:ја )?(?:мојата |својата )?согласност", r"\bизбришете (?:ги )?(?:моите|"
    r"мојата|мојот) (?:податоци|адреса|е-?пошта|мејл)\b",
    # sr (both scripts), hr: "избришете са ваше листе", "више не шаљете", "Prestanite da mi
    # šaljete", "Spriječite slanje ovih poruka"
    r"\bизбриш(?:ете|ите) (?:ме|мој|моју)\b", r"\bвише (?:ми )?не шаљ(?:ете|ите)\b",
    r"\bда ме (?:избришете|одјавите|уклоните|скинете|обришете)\b",
    r"\bda me (?:izbri[sš]ete|odjavite|uklonite|skinete|obri[sš]ete|maknete)\b",
    r"\bnemojte (?:mi |nam )?(?:vi[sš]e )?(?:slati|[sš]aljati|pisati|spamati)\b",
    r"\bнемојте (?:ми |нам )?(?:више )?(?:слати|шаљати|писати)\b",
    r"\bне желим (?:више )?(?:ваше |ове )?(?:поруке|мејлове|имејлове|е-?мејлове|огласе)\b",
    r"\bne [zž]elim (?:vi[sš]e )?(?:va[sš]e |ove )?(?:poruke|mejlove|mailove|e-?mailove|"
    r"oglase)\b",
    r"\bпрестаните (?:да (?:ми )?)?(?:шаљ|слат)\w*",
    r"\bprestanite (?:da (?:mi |nam )?)?(?:[sš]alj|slat)\w*",
    r"\b(?:sprije[čc]ite|zaustavite|obustavite|prekinite|spre[čc]ite) (?:sa )?slanje\w*",
    # hr, sl, sr, bs
    r"\bodjav\w*", r"\bispi[sš]ite\b", r"\bizbri[sš]ite (?:me|moj|moju|mojo)\b",
    r"\bne (?:[sš]aljite|po[sš]iljajte)\b",
    r"\b(?:da )?(?:mi |nam |na nju |na njega |na tu adresu )?vi[sš]e ne [sš]aljete\b",
    r"\bobri[sš]ete\b.{0,60}\b(?:baz|list|popis|adresar)",
    r"\bne [zž]elim (?:vi[sš]e |ve[cč] )?(?:primati?|prejemati|dobivati?)\b",
    r"\bmakni(?:te)? me\b",
    r"\bne [zž]elim (?:vi[sš]e |ve[cć] )?da (?:primam|dobijam|dobivam)\b",
    r"\b(?:skinite|uklonite|izbacite|obri[sš]ite)(?: me| moju adresu| moj)? (?:sa|s|iz) "
    r"(?:liste|popisa|spiska|mejling|mailing)", r"\b(?:skinite|uklonite|izbacite) me\b",
    r"\bодјав\w*", r"\bне шаљите\b", r"\bне желим (?:више )?(?:да )?(?:примам|добијам)\b",
    r"\b(?:скините|уклоните|избаците|избришите|обришите)(?: ме| моју адресу| мој)? "
    r"(?:са|с|из) (?:листе|списка|мејлинг)", r"\b(?:скините|уклоните|избаците|избришите) ме\b",
    # lt, lv, et
    r"\batsisaky\w*", r"\batsisakau\b", r"\bi[sš]brauk\w*", r"\bpa[sš]alinkite\b",
    r"\bnebesi[uų]sk(?:ite|it)\b",
    # et hu lv fi lt, a second round: "Võtke mind listist maha", "Uudiskirja mul enam vaja
    # pole", "A címemet vegyék le a listáról", "többé nem kérem", "Lūdzu izslēgt manu e-pasta
    # adresi", "ei tarvitse lähettää enää mitään", "lopettakaa … lähettely"
    r"\bv[õo]tke (?:mind|meid|mu aadress\w*)\b.{0,30}\bmaha\b",
    r"\b(?:listist|nimekirjast|meililistist|postiloendist)\b.{0,10}\bmaha\b",
    r"\b(?:uudiskir\w*|kirj\w*|meil\w*)\b.{0,30}\b(?:enam )?(?:ei soovi|vaja pole|pole vaja)\b",
    r"\bl[õo]petage\b.{0,25}\b(?:kirj\w*|meil\w*|uudiskir\w*|saatmi\w*)",
    r"\bkustutage\b.{0,30}\b(?:aadress\w*|listist|nimekirjast)\b",
    r"(?:\b(?:vegyenek|vegyék|vegyétek|vegyetek|szedjenek|szedjétek) le\b|\b(?:töröljenek|"
    r"töröljék|töröljétek)\b).{0,25}\b(?:listá\w*|levelezőlist\w*|címlist\w*)",
    r"\b(?:a )?címem\w*\b.{0,20}\b(?:vegyék|vegyenek|vegyétek|szedjék) le\b",
    r"\b(?:többé|már) nem (?:kérem|kérjük)\b",
    r"\b(?:hírlevel\w*|newslettert?)\b.{0,40}\b(?:kikapcsol\w*|lemond\w*|töröl\w*)",
    r"\bizsl[ēe]g(?:t|iet)\b.{0,40}\b(?:sarakst\w*|adres\w*)",
    r"\bei tarvitse (?:enää )?l[äa]hett[äa][äa]\b", r"\blopettaka(?:a|a jo)\b.{0,30}\bl[äa]hett",
    r"\bnesi[uų]skite\b", r"\batrakst\w*", r"\bizdz[eē]siet\b", r"\bnes[uū]tiet\b",
    r"\btellimus\w* (?:t[üu]hist|l[õo]peta)\w*", r"\beemalda(?:ge|da) (?:mind|minu)\b",
    r"\b[äa]rge (?:mulle )?(?:enam )?(?:saatke|kirjutage)\b", r"\b[äa]rge\b(?: \w+){1,4} saatke\b",
    r"\b[äa]ra (?:mulle |meile )?(?:enam )?saada (?:\w+ ){0,3}?(?:enam|reklaam\w*|uudiskir\w*|"
    r"e-?kirj\w*|kirj\w*|meil\w*)\b", r"\b[äa]ra (?:mulle |meile )?enam (?:\w+ )?saada\b",
    r"\bkeelan\b.{0,60}\b(?:otse)?turundus\w*",
    r"\bkustuta(?:da|ge|ge ära)?\b.{0,40}\b(?:nimekirja\w*|andmebaasi\w*|e-posti aadress\w*)",
    r"\beemalda(?:ge|da)\b.{0,80}\b(?:nimekirjast|listist|andmebaasist)\b",
    r"\bei soovi (?:enam )?(?:saada|kirju)\b", r"\bl[õo]petage\b.{0,30}\bsaatmi",
    r"\biz[nņ]emiet (?:manu|mani|m[uū]s)\b", r"\bdz[eē]siet (?:manu|mani)\b",
    r"\bnev[eē]los (?:vairs )?sa[nņ]emt\b",
    r"\bloobu\w* (?:uudiskirja|tellimus)\w*",
    # ca
    r"\bd(?:onar|oneu|oni)[- ](?:me|nos)? ?de baixa\b", r"\bno (?:m'envieu|ens envieu) m[ée]s\b",
    # "deixeu d'enviar-me correus", "deixàreu d'enviar-me publicitat", "Llevau-me de sa
    # llista", "Ja la podeu esborrar de la vostra base de dades", "no vull rebre més"
    r"\bdeix(?:eu|au|[àa]reu|in|i|ar|a|essin) d'enviar(?:-me|-nos|-m'|-ns)?",
    r"\b(?:llev(?:eu|au|a)|tre(?:ieu|u)|tra(?:ieu|u)|esborr(?:eu|au|a))-(?:me|nos)\b",
    r"\b(?:esborr\w*|elimin\w*|suprimi\w*|tre(?:ieu|u|ure|gueu)|tra(?:ieu|u|ure)|"
    r"llev(?:eu|au|a|ar))(?:-(?:me|nos|la|les))?\b.{0,40}\b(?:de (?:la |sa )?(?:vostra |"
    r"seva )?(?:base de dades|llista)|des (?:vostres )?llistes)\b",
    r"\b(?:esborr|elimin|suprimi)\w* (?:la meva|el meu|la nostra) (?:adre[çc]a|correu|"
    r"e-?mail|dades)\b",
    r"\bno (?:vull|volem|desitjo) (?:tornar a )?rebre\b",
    r"\b(?:butllet[íi]ns?|correus|publicitat)\b.{0,15}\bno (?:els |la |el )?vull\b",
    r"\bbaixa (?:del? |des )?(?:butllet[íi]|newsletter|llista|subscripci[óo])\b",
    r"\bretir(?:o|em) (?:el |tot )?(?:meu |nostre )?consentiment\b",
    r"\bsupressi[óo] de (?:les meves|les nostres|totes les meves) dades\b",
    # gl: "borrádeme da lista", "Quitádeme dunha vez", "solicito que eliminen o meu
    # enderezo das súas listaxes", "non quero recibir máis"
    r"\b(?:borr|quit|sac|elimin)(?:[áa]deme|[ée]deme|[áa]denos|ademe|edeme)\b",
    r"\b(?:borr|elimin|quit|sac)\w*\b.{0,40}\b(?:das? (?:súas |vosas |)?listaxes?|o meu "
    r"enderezo)\b",
    r"\bnon (?:quero|desexo|queremos) (?:volver a )?recibir\b", r"\bnon recibir m[áa]is\b",
    r"\bnon (?:me )?(?:envíen|envien|mandedes|enviedes|mandes) m[áa]is\b",
    # eu: "kendu nire helbidea posta-zerrendatik", "ez dut publizitaterik jaso nahi", "ez
    # bidali gehiago", "ezabatu nire helbidea", "ez erabili nire datuak"
    r"\b(?:kendu|ezabatu|borratu) (?:nire|gure) (?:helbide\w*|posta\w*|izen\w*|datu\w*)",
    r"\bzerrenda\w*tik (?:kendu|ezabatu|atera)\b", r"\bez (?:dut|dugu) (?:\w+ ){0,3}jaso nahi\b",
    r"\bez (?:bidali|igorri)\b", r"\bez erabili (?:nire|gure) datu\w*",
    r"\baurka egiteko eskubide\w*",
    # oc (Aranese, Languedocien), ast: "me tiretz dera vòsta lista", "Non voi recéber mès",
    # "deishatz de mandar-me", "dáime de baxa", "desaniciái la mio direición"
    r"\btir(?:atz|etz|ar)\b.{0,30}\blista\b", r"\bnon (?:voi|v[òo]li|vòl) (?:pas )?"
    r"rec[ée]b(?:er|re)\b", r"\bdei(?:sh|x)atz de (?:mandar|enviar)",
    r"\bnun (?:quiero|quieru) recibir\b", r"\bd[áa](?:i|d)?me de baxa\b",
    r"\bdesanici\w*",
    # he, ar
    r"הסירו אותי", r"להסיר אותי", r"הסר(?:ה)? אותי", r"אל תשלחו",
    r"(?:תורידו|הורידו|להוריד|תוציאו|הוציאו|להוציא|תסירו) אותי", r"תפסיקו לשלוח",
    r"(?:ביטול|לבטל) (?:את )?ה?מנוי", r"להפסיק לשלוח", r"(?:תמחקו|מחקו|למחוק) אותי",
    r"(?:להסיר|הסירו|תסירו|הסר|למחוק|מחקו|תמחקו) את (?:כתובתי|כתובת המייל שלי|המייל שלי|שמי)",
    r"מרשימת התפוצה", r"הודעת סירוב", r"סירובי לקבל",
    r"[إا]لغاء (?:ال)?اشتراك", r"عدم مراسلتي", r"لا تراسلوني", r"لا تكتبوا لي",
    # Arabic dialects: "وقفوا الرسايل هذي", "بطلوا تدزون هاي الرسائل", "شيلوا الإيميل بتاعي من
    # القايمة", "حيدو الإيميل ديالي من عندكم", "تنحيوني من الليستة", "امسحوه من عندكم"
    r"(?:وقفوا|وقّفوا|اوقفوا|أوقفوا|بطلوا|بطّلوا|وقفو|بطلو)\s.{0,25}(?:رسا[يئ]ل|إيميل|ايميل|ايمايل|"
    r"إيمايل|بريد|مسجات|رسايل)",
    r"(?:شيلوا|شيلو|شيلوني|حيدو|حيدوا|حيدوني|امسحوا|امسحوه|امسحو|نحيوني|تنحيوني|نحوني|طلعوني|"
    r"اطلعوني|ابعدوني|شطبوا|شطبوني)(?:\s.{0,40})?\s(?:من|مِن)\s?(?:القايمة|القائمة|القايمه|"
    r"الليستة|الليستا|الليست|اللائحة|لستكم|قايمتكم|قائمتكم|عندكم)",
    r"(?:مش عايزة?|ما بدي|ما أبي|ما ابي|مابدي)\s(?:أشوف|اشوف)\s.{0,30}"
    r"(?:تاني|ثاني|مرة ثانية|بعد اليوم)",
    # Arabizi: "wagfo el emailat", "chilouni mn l liste", "7iydouni men la liste"
    r"\b(?:wa2fo|wa2fou|wagfo|wagfou|waqfo|w2fo|battlo|batlo|ba6lo)\b.{0,20}\b(?:e?mails?|"
    r"emailat|imeylat|rasayel|rasa2el|messages|newsletter)",
    r"\b(?:chilouni|shilouni|shiloni|7iydouni|7aydouni|hiydouni|ne7iwni|na77iwni|tna77iwni|"
    r"tne7iwni|7ayduni|ashil|shilo|shelo|em7iwni|m7iwni)\b.{0,30}\b(?:liste?|lista|newsletter|"
    r"mailing)",
    # Persian (and Dari), Finglish, Urdu: "دیگر برایم ایمیل روان نکنید", "از فهرست … حذف
    # فرمایید", "dige baraye man email nafrestid", "اپنے ریکارڈ سے ڈیلیٹ کریں"
    r"(?:دیگه|دیگر)\s?(?:برایم|برام|برای من|به من)?\s?(?:ایمیل|ایمیلی|پیام|نامه)\S*\s?"
    r"(?:نفرستید|نفرستین|روان نکنید|ارسال نکنید)",
    r"از\s(?:فهرست|لیست|لست)\S*.{0,30}(?:حذف|پاک)\s?(?:کنید|کنین|فرمایید|بکنید|شود)",
    r"(?:تبلیغ|ایمیل)\S*.{0,30}رضایت ندارم",
    r"\b(?:dige|digeh|digar)\b.{0,25}\b(?:email|imeil|payam)\w*\b.{0,12}\bn[ae]f[e]?rest(?:id|in)\b",
    r"سے\s(?:ڈیلیٹ|حذف|ختم)\s?کر(?:یں|دیں|و)", r"مارکیٹنگ.{0,40}اجازت نہیں",
    r"[أا]زيلوني", r"احذفوا", r"توقفوا عن [إا]رسال",
    r"لا (?:ترسلوا|ترسل) ", r"لا [أا]ريد (?:استلام|تلقي)",
    r"[أا]لغي اشتراك", r"مبقتش عايز", r"[أا]سحب\b.{0,20}موافقتي", r"[إا]زالة (?:عنوان )?بريدي",
    r"عدم [إا]رسال (?:أي )?(?:رسائل|[إا]يميلات|بريد|عروض|[إا]علانات|نشر)",
    r"شيلوا (?:[إا]يميلي|بريدي|اسمي|عنواني)", r"شيلوني", r"ما [أا]بي (?:توصلني|يوصلني)",
    r"\bsheel(?:ooni|ouni|uni)\b", r"\bmesh 3ayz?e?z?\b.{0,30}\bemails?\b",
    # fa (Arabic script: no word boundaries needed)
    r"لغو (?:اشتراک|عضویت)", r"(?:ایمیل|آدرس|نشانی) (?:من|مرا|م)\b.{0,40}حذف",
    r"از (?:فهرست|لیست).{0,30}(?:حذف|خارج) کن", r"(?:دیگر|دیگه) .{0,20}(?:نفرستید|ارسال نکنید)",
    r"نمی[\u200c ]?(?:خواهم|خوام) .{0,40}دریافت",
    # eu, is, ga
    r"\bez (?:bidali|bidal(?:du|tzen))\b", r"\bkendu (?:nazazue|nazazu|nazaten)\b",
    r"\bzerrendatik kendu\b", r"\bharpidetza(?:tik)? (?:kendu|ezeztatu|bertan behera)\w*",
    r"\bbaja eman\w*", r"\b(?:tak(?:a|i[ðd])|teki[ðd]) mig af\b", r"\bafskr[áa]\w*",
    r"\bsegja upp [áa]skrift\w*", r"\bh(?:æ|ae|a)tt[ae]? (?:vi[ðd] )?[áa]skrift\w*",
    r"\bafturkall\w*\b(?: \w+){0,3} sam[þt]ykki", r"\bandm[æa]li\b", r"\bey[ðd]i[ðd] netfangi",
    r"\bekki senda (?:m[ée]r|okkur)\b",
    r"\b[ée]g vil ekki (?:f[áa] )?(?:fleiri|meira|meiri) (?:\w+ )?(?:augl[ýy]sing\w*|p[óo]st\w*|"
    r"t[öo]lvup[óo]st\w*|fr[ée]ttabr[ée]f\w*)", r"\bd[íi]chl[áa]raigh\w*",
    r"\bbain (?:m[ée]|mo sheoladh) (?:de|den|as)\b", r"\bn[áa] seol\w*",
    r"\ba bhaint (?:de|den|as) (?:bhur|an|[bh]ur) liosta\b",
    r"\bn[íi]l m[ée] ag iarraidh\b.{0,60}\ba fh[áa]il\b",
    # sw, cy, sq, af, mt, lb, gl, tl, az, yo
    r"\bkeng (?:\w+ )?(?:newsletter\w*|e-?mailen|mailen|mails|reklammen?) m[ée]i\b",
    r"\bhuelt (?:mech|eis)\b.{0,40}\berof\b", r"\bvun (?:ärer|eurer|der) l[ëe]scht\b",
    r"\bm?niondoe(?:ni)?\b", r"\bondoa (?:jina|anwani|barua pepe) yangu\b",
    r"\bsitaki (?:tena )?kupokea\b", r"\bacha(?:ni)? kunitumia\b", r"\bmsinitumie\b",
    r"\bkujiondoa\b", r"\bdad-?danysgrif\w*", r"\btynn(?:u|wch) (?:fi|fy (?:nghyfeiriad|enw|"
    r"e-?bost|cyfeiriad))\b", r"\bpeidiwch (?:ag|â) anfon\b",
    r"\b(?:dw i|dwi|rwy'n|dydw i) ddim (?:eisiau|isio) (?:derbyn|cael)\b",
    r"\boddi ar (?:eich|y) rhestr\b",
    r"\b[çc]regjistr\w*", r"\bm[ëe] hiqni\b", r"\b(?:fshini|hiqni|fshij|hiq) (?:adres[ëe]n|"
    r"emailin|e-?mailin|email-?in) (?:time|tim)\b", r"\bmos (?:m[ëe] )?(?:d[ëe]rgoni|"
    r"d[ëe]rgo)\b", r"\bnuk (?:dua|d[ëe]shiroj) (?:m[ëe] )?t[ëe] (?:marr|pranoj)\b",
    r"\buitteken\b", r"\bteken (?:my|ons) uit\b", r"\bverwyder (?:asseblief )?(?:my|ons)\b",
    r"\bhaal (?:my|ons)\b.{0,30}\b(?:af|van (?:die|julle) lys)\b", r"\bmoenie\b.{0,30}"
    r"\bstuur nie\b", r"\bwil nie (?:meer )?.{0,30}ontvang nie\b",
    r"\bne[ħh]{1,2}(?:uni|ini|ewni)\b", r"\btibag[ħh]tu(?:l)?(?:ix|lix)\b",
    r"\bma rridx (?:aktar )?nir[ċc]ievi\b",
    r"\bofmell\w*", r"\bl[äa]scht mech\b", r"\bsch[ée]ckt mir keng\b",
    r"\b(?:darme|d[áa]deme|deme|d[ée]nme|dame|d[áa]me) de baixa\b",
    r"\bnon (?:me )?(?:env[íi]en|enviedes|mandedes|env[íi]es) m[áa]is\b",
    r"\bpakitanggal\w*", r"\btanggal(?:in|an)\b.{0,20}\bako\b", r"\bpaki-?alis\w*",
    r"\bayaw (?:ko|namin) na (?:pong |po )?(?:ma)?(?:katanggap|tumanggap)",
    r"\bhuwag (?:na |nang )?(?:po )?(?:ninyo |niyo |nyo )?(?:akong |ako )?(?:padalhan|padalan|"
    r"i-?email|sendan)", r"\bayoko na(?:ng)? (?:ma)?(?:katanggap|tumanggap)",
    r"\babun[əe]likd[əe]n (?:m[əe]ni )?[çc][ıi]xar(?:[ıi]n|[ıi]n[ıi]z|ma[ğg][ıi]n[ıi]z[ıi])\b",
    r"\babun[əe]likd[əe]n [çc][ıi]xmaq ist[əe]yir[əe]m\b",
    r"\bsiyah[ıi]dan (?:m[əe]ni )?(?:[çc][ıi]xar|sil)(?:[ıi]n|in|[ıi]n[ıi]z|iniz)\b",
    r"\bg[öo]nd[əe]rm[əe]yin\b", r"\balmaq ist[əe]mir[əe]m\b",
    r"\by[ọo] mi k[úu]r[òo]\b", r"\bm[áa] (?:ṣe )?fi .{0,30}r[aà]n[ṣs][ẹe]",
    # tr, az: the list word with another between ("listenizden siz silin", "bu poçt
    # siyahısından çıxarın"), the newsletter not wanted, consent withdrawn, an objection
    r"\blisten?(?:iz)?den (?:\w+ )?(?:[çc][ıi]kar(?:[ıi]n|[ıi]n[ıi]z|abilir)|sil(?:in|iniz|"
    r"ebilir)|kald[ıi]r(?:[ıi]n|[ıi]n[ıi]z|abilir))\w*",
    r"\b(?:b[üu]lten\w*|e-?postalar\w*|mailler\w*|reklam\w*|tan[ıi]t[ıi]m\w*) (?:\w+ )?"
    r"istemiyorum\b",
    r"\b(?:onay[ıi]m[ıi]|r[ıi]zam[ıi]|iznimi|muvafakatimi) geri (?:al[ıi]yorum|[çc]ekiyorum)\b",
    r"\b(?:pazarlama|reklam|tan[ıi]t[ıi]m)\w*.{0,60}\bitiraz ediyorum\b",
    r"\bsiyah[ıi]\w{0,6}dan (?:m[əe]ni )?(?:[çc][ıi]xar|sil)(?:[ıi]n|[ıi]n[ıi]z|in|iniz|"
    r"ma[ğg][ıi]n[ıi]z[ıi]|m[əe]yinizi)\b",
    # tr a second round: "listelerinizden kaldırın", "bülten gelmesini istemiyoruz", "bir daha
    # görmek istemiyorum", "verilerimin silinmesini", "kullanılmasına … itiraz ediyorum"
    r"\bliste\w*den (?:\w+ )?(?:[çc][ıi]kar|sil|kald[ıi]r)(?:[ıi]n|[ıi]n[ıi]z|in|iniz|abilir)\w*",
    r"\b(?:b[üu]lten\w*|e-?posta\w*|mail\w*|reklam\w*)\b.{0,30}\b(?:gelmesini|g[öo]nderilmesini|"
    r"almak) istemiyor(?:um|uz)\b", r"\bbir daha g[öo]rmek istemiyorum\b",
    r"\b(?:mail\w*|e-?posta\w*|b[üu]lten\w*|reklam\w*)\b.{0,20}\bbir daha almak istemiyorum\b",
    r"\bverilerimin silinmesini\b", r"\bkullan[ıi]lmas[ıi]na\b.{0,40}\bitiraz ediyorum\b",
    # tt tk kk uz ky: "исемлектән бетерегез", "sanawyňyzdan aýyryň", "hat ibermäň",
    # "salgymy pozuň", "тізімінен алып тастаңыз", "tiziminen şığarıp tastañız",
    # "рўйхатингиздан ўчириб ташланг", "юборманг", "тизмеңерден өчүрүп", "жөнөтпөңүздөр"
    r"исемлек\w*\s.{0,20}(?:бетерегез|сызыгыз|чыгарыгыз)", r"хат\w*.{0,20}кирәкми",
    r"\bsanaw\w*dan a[ýy]yr\w*", r"\b(?:hat |e-?poçta )?iberm[äa][ňn](?:iz)?\b",
    r"\bsalgym\w* pozu\w*", r"тізім\w*ен .{0,20}(?:алып таста|өшір|шығар)",
    r"\btizim\w*en\b.{0,20}\b(?:[şs][ıi]ğar|alyp tasta|al[ıi]p tasta|[öo]şir)\w*",
    r"рўйхат\w*дан\s.{0,20}(?:ўчир|чиқар)\w*", r"юборманг\w*",
    r"тизме\w*ден\s.{0,20}(?:өчүр|чыгар)\w*", r"жөнөтпөңүз\w*",
    r"\blisten?(?:iz)?den [çc][ıi]kar[ıi]lmas[ıi]n[ıi]\b",
    r"\badresimin\b.{0,40}\b(?:[çc][ıi]kar[ıi]lmas[ıi]n[ıi]|silinmesini|kald[ıi]r[ıi]lmas[ıi]n[ıi])",
    r"\bg[öo]nderilmemesini (?:talep|rica)\b",
    r"\brazıl[ıi][ğg]\w* geri (?:g[öo]t[üu]r|al[ıi]r)\w*",
    r"\b(?:marketinq|reklam)\w*.{0,60}\betiraz edir[əe]m\b",
    # id, ms: "berhenti berlangganan", "hapus email saya", "jangan kirim email promosi lagi",
    # "keluarkan saya dari senarai", "menarik kembali persetujuan"
    r"\bberhenti (?:ber)?langganan\b", r"\bberhenti melanggan\b", r"\bnyahlanggan\w*",
    r"\b(?:batalkan|hentikan|stop) (?:\w+ )?langganan (?:newsletter|buletin|e-?mail|e-?mel|"
    r"surel|promo\w*|berita)\b",
    r"\b(?:hapus|padam|buang)(?:kan)? (?:e-?mail|e-?mel|alamat(?: e-?mail| e-?mel| surel)?|"
    r"surel|data|nama) (?:saya|aku|kami)\b",
    r"\b(?:hapus|keluarkan|keluarin|coret|buang|padam)(?:kan)? (?:saya|aku|kami)\b.{0,20}"
    r"\bdari\b",
    r"\b(?:hapus|keluarkan|keluarin|coret|buang|padam|cabut)(?:kan)?\b.{0,40}\bdari(?:pada)? "
    r"(?:daftar|senarai|milis|mailing ?list)\b",
    r"\btidak (?:lagi )?(?:mahu|mau|ingin|berminat|berhasrat) (?:lagi )?(?:untuk )?"
    r"(?:menerima|terima)\b",
    r"\b(?:jangan|jgn|jngn) (?:\w+ ){0,2}(?:kirim|kirimi|kirimkan|mengirim|mengirimi|"
    r"mengirimkan|hantar|"
    r"menghantar)\w* (?:\w+ ){0,3}?(?:e-?mail|e-?mel|surel|newsletter|buletin|promo\w*|iklan)\b",
    r"\bjangan (?:\w+ ){0,2}(?:kirim|kirimi|kirimkan|mengirim|mengirimi|hantar)\w* "
    r"(?:(?:saya|aku|kami) )?lagi\b",
    r"\b(?:tidak|tak|nggak|gak|enggak) (?:mau|ingin|mahu|hendak) (?:lagi )?(?:menerima|terima|"
    r"dapat|mendapat|dikirimi)\w*\b.{0,30}\b(?:e-?mail|e-?mel|surel|newsletter|buletin|"
    r"promo\w*|iklan)\b",
    r"\bmenarik (?:kembali|balik) (?:persetujuan|izin|kebenaran|keizinan)\b",
    r"\bkeberatan (?:atas|terhadap) (?:penggunaan|pemrosesan) data\b",
    # uz (Latin; o‘ and g‘ written with any of their apostrophes)
    r"\bobuna(?:ni|dan) (?:bekor qil(?:ing|ish|moqchiman)|chiqar\w*)",
    r"\b(?:meni|manzilimni|pochtamni|emailimni)\b.{0,60}\b(?:o[ʼ'‘’ʻ`]?chir(?:ing|ib|ish)|"
    r"chiqar(?:ing|ib))\w*",
    r"\bro[ʼ'‘’ʻ`]?yxat\w*dan (?:meni )?(?:chiqar|o[ʼ'‘’ʻ`]?chir)\w*",
    r"\b(?:xat|xabar|reklama|e-?mail|pochta)\w* (?:\w+ )?yubormang\w*\b",
    r"\b(?:boshqa|endi) (?:\w+ )?yubormang\w*\b",
    # eo
    r"\bmalabon(?:igu|u|i|igi)\b", r"\bforig(?:u|i) min\b",
    r"\bforig(?:u|i)\b.{0,40}\b(?:adreso|listo|dissendolist|datumbaz)\w*",
    r"\bne plu (?:sendu|sendi)\b", r"\bne plu (?:deziras|volas) ricevi\b",
    r"\b[ĉc]esigu\b.{0,30}\bsend\w*",
    # ku (Kurmanji): "min ji lîsteya nameyan derxînin", "naxwazim êdî … bistînim"
    r"\bmin ji (?:\w+ ){0,3}?(?:l[îi]ste|lista)\w*(?: \w+){0,2} (?:derx[îi]n|rak[îi]n|"
    r"j[êe] bibin)\w*",
    r"\bnaxwazim\b.{0,40}\bbist[îi]nim\b",
    r"\b(?:e-?nam\w*|nam\w*|reklam\w*|peyam\w*|[êe]d[îi])\b.{0,30}\bne[şs][îi]nin\b",
    # vi (after NFKC), hi (Devanagari and Latin), ur, bn, ta, ne, el in Latin letters
    r"\bh[ủu]y (?:đăng k[ýí]|nhận tin|theo dõi)", r"\b(?:ngừng|dừng|thôi|đừng) gửi\b",
    r"\bx(?:óa|oá) (?:địa chỉ|email|e-mail|tên|thông tin)\b", r"\bkhỏi danh sách\b",
    r"\bkhông (?:muốn|cần) nhận\b",
    # Vietnamese typed without its diacritics: "Dung gui email cho toi nua", "huy dang ky"
    r"\bhuy (?:dang ky|nhan tin|theo doi)\b", r"\b(?:ngung|thoi) gui\b",
    r"\bdung gui (?:\w+ ){0,3}?(?:email|e-mail|mail|thu|tin)\b", r"\bkhoi danh sach\b",
    r"\bkhong (?:muon|can) nhan\b", r"\bxoa (?:dia chi|email|e-mail|ten|thong tin)\b",
    r"सदस्यता (?:रद्द|समाप्त)", r"(?:मत|न) (?:भेज|भेजें|भेजिए|भेजो)",
    r"(?:लिस्ट|सूची) से .{0,20}(?:हटा|निकाल)", r"\b(?:mat|mt|na) bhej\w*",
    r"\b(?:list|suchi) se\b.{0,30}\b(?:hata|hatao|nika+l)\w*",
    # "Aapke newsletters ab bilkul nahi chahiye"
    r"\b(?:newsletters?|mails?|e-?mails?|messages?|promotions?|promo)\b.{0,25}\b(?:nahi|nahin|"
    r"nai|nhi) chahiye\b",
    r"\b(?:email|mail|e-?mail id|naam|id) (?:ko )?hata (?:do|dijiye|dena|de)\b",
    r"(?:ای میل|میل|ای\u200cمیل) (?:نہ|مت) بھیج", r"(?:فہرست|لسٹ) سے (?:نکال|ہٹا)",
    r"رکنیت (?:منسوخ|ختم)", r"সাবস্ক্রিপশন বাতিল", r"আনসাবস্ক্রাইব",
    r"(?:মেইল|ইমেইল|ই-মেইল) পাঠাবেন না", r"তালিকা থেকে .{0,20}(?:বাদ|সরিয়ে|মুছে)",
    r"அனுப்ப வேண்டாம்", r"பட்டியலிலிருந்து .{0,20}நீக்க", r"குழுவிலக",
    r"नपठाउनु", r"(?:सूची|लिस्ट)बाट .{0,20}हटाउ",
    r"\bdiagra(?:ps|f)(?:ete|te|ste|i)\b", r"\bapeggraf\w*",
    r"\bden (?:thelw|thelo|epithymw|epithimo) na (?:lamvanw|lambano|lamvano|pairnw|pairno)\b",
    r"\bmi(?:n)? (?:mou )?(?:stelnete|steilete|ksanasteilete)\b",
    # mk, kk, mn (Cyrillic); ka, th, km, si, am (no \b needed in most)
    r"\b(?:избришете|отстранете|извадете) ме\b", r"\bне (?:ми )?праќајте\b",
    r"\bне сакам (?:повеќе )?да (?:добивам|примам)\b",
    r"жазылымнан (?:бас тарт|шығ)", r"тізімнен .{0,20}(?:алып таста|өшір|шығар)",
    r"жібермеңіз",
    r"(?:хат|хабар|жаңалық|e-?mail|email|пошта|рассылк|тарату)\w*.{0,30}алғым келмейді",
    r"(?:жагсаалт|бүртгэл)аас .{0,20}хас",
    r"битгий .{0,20}илгээ", r"захиалга(?:аа)? цуцл",
    r"ამომ?შალ[ეო]?თ", r"გამოწერის გაუქმებ", r"აღარ მინდა .{0,40}მიღება", r"ნუ (?:მი)?გამომიგზავნ",
    r"სიიდან .{0,20}(?:ამოშალ|წაშალ)",
    r"ยกเลิก(?:การ)?(?:รับ|สมัคร|สมาชิก)", r"ลบ.{0,30}ออกจาก(?:รายชื่อ|รายการ|ลิสต์)",
    r"ไม่ต้องส่ง", r"ไม่(?:ต้องการ|อยาก)(?:ได้)?รับ", r"(?:หยุด|เลิก)ส่ง", r"ยกเลิก(?:การ)?ส่ง",
    r"อย่าส่ง(?:อีเมล|เมล|มา|ข่าว)",
    r"ឈប់ផ្ញើ", r"មិនចង់ទទួល", r"ដកឈ្មោះ", r"ලැයිස්තුවෙන් .{0,20}ඉවත්", r"එවන්න එපා",
    r"ከዝርዝር.{0,30}(?:ያስወግዱ|አስወግዱ|ሰርዙ)", r"አትላኩ", r"አስወግዱኝ",
    # zh, ja, ko (no word boundaries in these scripts)
    r"退订", r"退訂", r"取消(?:订阅|訂閱|关注)", r"(?:从|從).{0,15}(?:删除|刪除|移除)",
    r"(?:删除|刪除|移除)我的", r"不要再(?:发|發|寄|给我|給我)", r"别再(?:发|寄|给我)",
    r"停止(?:发送|發送|寄送|推送)",
    # "别往这个地址发了", "请勿再寄", "停止向本邮箱发送", "删除贵方保存的本人邮箱地址",
    # "拒绝贵方将我的个人信息用于营销目的"
    r"(?:别|不要|請勿|请勿|勿|別)(?:再)?(?:往|向|给|給|對|对)(?:这个|這個|本|我的|此)?(?:地址|邮箱|"
    r"郵箱|信箱|邮件地址|郵件地址).{0,4}(?:发|發|寄|送)",
    r"停止(?:向|往|对|對).{0,12}(?:发送|發送|寄送|推送|发|發)",
    r"(?:删除|刪除|移除).{0,12}(?:邮箱|郵箱|邮件地址|郵件地址|电邮|電郵|信箱)(?:地址)?",
    r"拒绝.{0,30}(?:营销|推广|廣告|广告)", r"拒絕.{0,30}(?:行銷|推廣|廣告|營銷)",
    # ja "メルマガ解除して下さい", "メールマガジンの配信を停止していただけますでしょうか"
    r"(?:メルマガ|メールマガジン|ニュースレター)(?:の|を)?(?:配信)?(?:を)?(?:解除|停止|退会)",
    r"配信(?:を)?(?:停止|解除|中止)", r"購読(?:を)?(?:解除|停止|中止)", r"登録(?:を)?解除",
    r"(?:送らないで|送信しないで|送付しないで|送って(?:こ|く)ないで|配信しないで|"
    r"メールしないで)", r"(?:リスト|名簿)から(?:削除|外し)",
    r"アドレスを削除", r"退会(?:したい|します|させて|を希望)",
    r"(?:送|お送り)(?:って)?いただかなくて(?:結構|大丈夫|けっこう)",
    r"(?:メール|ご案内|案内|メルマガ|配信)(?:は|も)?(?:今後)?(?:もう)?(?:不要|結構)(?:です|でございます)",
    r"수신\s?(?:거부|거절|중단|중지|차단|해지|취소)", r"구독\s?(?:취소|해지)",
    r"(?:보내지\s?마|그만\s?보내)", r"(?:목록|리스트|명단)에서\s?(?:삭제|제외|빼)",
    r"그만\s?받", r"(?:메일|이메일|뉴스레터|광고|소식|정보|알림).{0,20}(?:받고\s?싶지|받지\s?않|"
    r"원하지\s?않)",
    r"동의(?:를)?\s?철회", r"동의.{0,30}철회(?:하겠|합니다|하고)", r"마케팅.{0,30}동의하지\s?않",
    r"(?:수신|발송|이메일|메일|광고).{0,20}(?:중단|중지)(?:해|하여)\s?주",
    # zh (Cantonese "唔好再"; "自…名單中刪除"), ja "メール止めて"
    r"唔好再", r"取消我的(?:订阅|訂閱)",
    r"自.{0,15}(?:名單|名单)(?:中)?(?:删除|刪除|移除)",
    r"(?:名單|名单)(?:中|里|裡)?(?:删除|刪除|移除|删掉|刪掉|去掉)",
    r"(?:不希望|不想|不愿|不願)(?:再)?(?:收到|接收).{0,12}(?:邮件|郵件|电邮|電郵|电子报|電子報|"
    r"广告|廣告|推广|推廣|促销|促銷|资讯|資訊|newsletter|e-?mail)",
    r"停止使用.{0,15}(?:個人資料|个人资料|个人信息|個人信息|资料|資料|邮箱|郵箱|电邮|電郵)",
    r"(?:メール|配信|メルマガ|案内)(?:を|は)?(?:止めて|とめて|停止して)",
)

# The whole sentence is a keyword (subject lines, one-word replies).
_KEYWORD_ONLY = re.compile(
    r"^(?:please |bitte |por favor |s'il vous pla[îi]t |prego |graag |prosz[ęe] )?"
    r"(?:unsubscribe|unsubscriben|opt[- ]?out|stop|remove|remove me|take me out|abmelden|"
    r"abbestellen|austragen|abmeldung|d[ée]sabonner|d[ée]sinscription|d[ée]sinscrire|baja|"
    r"remover|descadastrar|descadastro|"
    r"darse de baja|"
    r"cancelar suscripci[óo]n|disiscrivi|disiscrizione|cancellami|afmelden|uitschrijven|"
    r"wypisz|wypisanie|rezygnacja|avregistrera|td|退订|退訂|kein interesse mehr|"
    r"plus int[ée]ress[ée]e?|ya no me interesa|non mi interessa pi[ùu]|geen interesse meer|"
    r"διαγραφ[ήη]|απεγγραφ[ήη]|הסר|הסרה|[إا]لغاء الاشتراك|descadastrar|descadastro|"
    r"desuscribir(?:me)?|darme de baja)"
    r"(?:,? (?:me|mich|moi|please|bitte|por favor|grazie|danke|thanks|thank you|merci|"
    r"gracias|dank je))*$",
    re.I,
)

# A negation right before the objection verb, in the same clause: "not working, remove
# me" and "No, please unsubscribe me" are not negated.
_NEGATION_BEFORE = re.compile(
    r"(?:\b(?:nicht|nie|niemals|kein(?:e|en)?|auf keinen fall|keinesfalls|bloß nicht|"
    r"not|don't|dont|do not|won't|wont|never|no need to|please don't|ne pas|ne|pas|jamais|"
    r"no(?! thanks?\b| thank you\b| danke\b| merci\b| gracias\b| grazie\b| link\b| site\b|"
    r" bot[ãa]o\b| rodap[ée]\b| final\b| fim\b| app\b| aplicativo\b| e-?mail\b)|nunca|"
    r"non|mai|niet|nooit|geen|nie|n[ãa]o|ikke(?! nok\b)|inte|ej|ekki|[äa]lk[äa][äa]|[äa]l[äa]|"
    r"ei|nem|nemojte|nemoj|немојте|немој|ned|nid|nöd|"
    r"nu (?:vreau|doresc|vrem|dorim)|nu|no me (?:deis|den|des|d[ée]|da|deas) de|"
    r"не|ні|μη|μην|δεν|לא|لا|ليس|وليس|ولا|en (?:halua|tahdo)|emme (?:halua|tahdo))\b)"
    r"(?:,? (?:ever|never|ever again|nie|niemals|jamais|nunca|mai)\b,?)?\s*"
    r"(?:\w+\s+){0,2}$|(?:不要|别|不)$|\bjangan(?: di)?-?\s*$",
    re.I,
)
# Languages that negate after the verb: "配信停止まではしたくない" (I don't want to go as
# far as stopping delivery), "수신거부 하지 마세요".
_NEGATION_AFTER = re.compile(
    # the Scandinavian imperative: "Avregistrera mig inte", "afmeld mig ikke"
    # German with the verb first: "abmelden will ich mich ja gar nicht"
    r"^\s*(?i:(?:will|m[öo]chte|werde|muss|wollen|m[öo]chten) (?:ich |wir )?(?:mich |uns )?"
    r"(?:ja |doch |aber |eigentlich )?(?:gar |[üu]berhaupt )?(?:nicht|keinesfalls))\b|"
    r"^\s*(?:(?i:mig|meg|oss|os|dem)\s+)?(?i:inte|ikke|ej)\b|"
    # South and West Slavic with the verb first: "Odjaviti se ne želim"
    r"^\s*(?i:(?:se |si |sa |me )?(?:ne\s+(?:[žz]elim|mislim|bom|[čc]u|chci|chcem)|no[čc]em|"
    r"nechci|nechcem|ne[ćc]u|necu))\b|"
    # Turkish negative imperative after the noun: "aboneliğimi iptal etmeyin"
    r"^\s*(?i:etmeyin(?:iz)?|etme|yapmay[ıi]n)\b|"
    # Russian and Ukrainian with the verb first: "Отписываться я не собираюсь"
    r"^\w*\s*(?i:(?:я |мы )?не (?:собираюсь|собираемся|буду|хочу|планирую|збираюся|"
    r"збираюсь|хочу|стану))\b|"
    r"^\s*(?:[はまでもをの]{0,4})(?:したくない|しないで|しなくて|はしません|しません|"
    r"しなくても|不要|(?:을|를)?\s?하지\s?(?:마|말|않))")
# A footer's offer, not a request: the phrase in an "if you wish to …" clause ("Si desea
# darse de baja, puede hacerlo en …"). "If you could remove me" is a request.
_CONDITIONAL = re.compile(
    r"^(?:if you (?:\w+ )?(?:wish|want|would like|prefer|no longer (?:wish|want))|"
    r"should you (?:wish|want)|(?:wenn|falls) sie\b[^,;]*\b(?:m[öo]chten|wollen|w[üu]nschen)|"
    r"si (?:vous )?(?:d[ée]sirez|souhaitez|voulez|ne souhaitez plus)|si (?:usted )?(?:desea|"
    r"quiere|prefiere|ya no desea)|si (?:deseas|quieres)|se (?:desidera|desideri|vuoi|"
    r"non desideri)|(?:als|indien) (?:u|je)\b[^,;]*\bwil(?:t|len)?|je[śs]li (?:chcesz|"
    r"nie chcesz|pa[ńn]stwo)|se (?:voc[êe]|desejar|quiser|n[ãa]o quiser)|caso (?:deseje|"
    r"queira|n[ãa]o queira))\b[^,;]*$", re.I)
# Phrases whose own meaning already contains the negation: never "negated".
_INHERENT_NEGATIVE = re.compile(
    r"^(?:no |keine|nicht mehr|ne |non |geen |niet meer|nie |do not|don't|dont|never|"
    r"n[ãa]o |ikke |inte |inga |nu |не |δεν |μη|ei |nem |[äa]lk[äa][äa] |不要|别再|"
    r"אל |لا |nechc|nepos|neposiel|nesi|nebesi|nes[uū]t|[äa]rge |jangan |jgn |jngn |"
    r"tidak |ayaw |đừng |dung |không |khong |อย่า|nemojte |немојте |ما |مش )", re.I)

# Signed up again ("ponovno sam se prijavio", "znovu jsem se přihlásil") and staying, said as
# the last word or of the list ("je reste !", not "ich bleibe dabei: bitte abmelden").
_SIGNED_UP_AGAIN = (r"\bponovn?o (?:sam se )?prijavi\w*|\bznovu (?:jsem se )?p[řr]ihl[áa]sil\w*|"
                    r"\b(?:spet|opet) (?:se )?(?:bi )?(?:rad |rada )?prijavi\w*|\bvpi[sš]ete "
                    r"nazaj\b|\bподпишите (?:меня |нас )?(?:обратно|снова|заново)\b|"
                    r"\bпідпишіть (?:мене |нас )?(?:знову|назад)\b|\bзапишете отново\b|"
                    r"\btornar a (?:apuntar|subscriure|donar d'alta)\b|(?<!\bno )(?<!\bnon )"
                    r"\b(?:m'agradaria|voldria|vull|volem|ens agradaria) tornar a rebre\b|"
                    r"\btorna(?:r|de)? a (?:apuntar|subscribir|dar de alta)\b")
_STAYING = (r"\bsigan (?:mand|envi)[áa]ndome\b|\bsegu[ií] mand[áa]ndo\w*|\bcontin[úu]en "
            r"(?:mand|envi)[áa]ndome\b|"
            r"\b(?:je reste|ich bleibe|i(?:'ll| will) stay|me quedo|rimango|ik blijf)"
            r"(?:\s*[!.]|\s*$| (?:abonn|inscrit|angemeldet|subscribed|on the list|suscrit|"
            r"iscritt|ingeschreven))|\b(?:resto|rimango) (?:comunque |ancora |volentieri )?"
            r"(?:iscritt|abbonat)")
_KEEP = _rx(
    r"\bkeep me\b", r"\bstay on\b", r"\bremain on\b", r"\bdon't (?:unsubscribe|remove)",
    r"\bkeep (?:getting|receiving)\b", r"\bstill subscribed\b",
    r"\b(?:don't|do not) want to miss\b",
    r"\b(?:sign|subscribe) (?:me|us|my|our|him|her)\b", r"\bsign up\b", r"\bsubscribe\b",
    r"\bre-?subscribe\b", r"\bwieder (?:erhalten|bekommen|anmelden|aufnehmen|eintragen)\b",
    r"\bwieder in (?:den|die) (?:verteiler|liste)\b", r"\bauch (?:bekommen|erhalten)\b",
    r"\bgerne? (?:weiter|wieder)\b", r"\bweiterhin (?:erhalten|bekommen)\b",
    r"\banmelden\b", r"\beintragen\b", r"\baufnehmen\b", r"\bm'inscrire\b", r"\binscri(?:re|vez)\b",
    r"\bsuscribir(?:me|se)?\b", r"\biscriver(?:mi|e)\b", r"\baanmelden\b", r"\bzapisa[ćc]\b",
    r"\bagain\b", r"\bstill (?:want|like|love|enjoy|read)\b", r"\br[ée](?:inscri|abonn)\w*",
    r"\bput (?:me|us) back\b", r"\breabon\w*", r"\bcolocar de volta\b", r"\bvoltar a receber\b",
    r"\bhalda [áa]fram a[ðd] f[áa]\b", r"\bje (?:la|le) garde\b", r"\bje garde la newsletter\b",
    _SIGNED_UP_AGAIN, r"להמשיך לקבל", _STAYING,
    r"\bvrati(?:ti|te) (?:me |nas )?na (?:listu|popis)\b",
)
_OTHER_PERSON = _rx(
    r"\b(?:my|our) (?:colleague|manager|boss|lab manager|assistant|team|wife|husband|"
    r"partner)\b", r"\b(?:mein(?:e|en)?|unsere?) (?:kolleg(?:in|e|en)|chef(?:in)?|"
    r"mitarbeiter(?:in)?|vorgesetzte[rn]?)\b", r"\bmon coll[èe]gue\b", r"\bma coll[èe]gue\b",
    r"\bmi compa[ñn]er[oa]\b", r"\bil mio collega\b", r"\bmijn collega\b", r"\bm[óo]j kolega\b",
    r"\bfrau [A-ZÄÖÜ]\w+\b", r"\bherr[n]? [A-ZÄÖÜ]\w+\b",
    # a spouse: "Ma femme voudrait se désabonner, mais moi …"
    r"\b(?:ma femme|mon mari|mon [ée]pouse|ma compagne|mon conjoint|mi (?:mujer|esposa|marido)|"
    r"mia moglie|mio marito|mijn (?:vrouw|man)|meine frau|mein mann|moja [żz]ona|"
    r"m[óo]j m[ąa][żz])\b",
)
_ABOUT_US = _rx(
    r"\b(?:where|how) did you get (?:my|our) (?:address|e-?mail|details|data)",
    r"\bwhy (?:am i|are we|do i|do we) (?:getting|receiving)\b",
    r"\bwoher (?:haben sie|habt ihr) (?:\w+ )?(?:meine|unsere)\b",
    r"\bwie sind sie an (?:meine|unsere)\b",
    r"\bwarum (?:bekomme|erhalte|kriege) ich\b", r"\bo[ùu] avez-vous (?:eu|trouv[ée])\b",
    r"\bpourquoi (?:je re[çc]ois|recevons)\b", r"\bde d[óo]nde (?:han )?(?:sacado|obtenido)\b",
    r"\bdove avete preso\b", r"\bwaar hebben jullie\b", r"\bskąd macie\b",
    r"\bi never (?:signed up|subscribed)\b", r"\bnie eingetragen\b", r"\bnie angemeldet\b",
    r"\bnie (?:bestellt|abonniert)\b",
)
# "I never agreed to this", "ohne meine Einwilligung": consent denied. Sending on after
# that is mailing someone who says there was never a basis for it, so, said of the mail,
# it is honoured as an objection and shown to a human (often it asks where the address
# came from, too). Said of a price, a contract or terms, it is not about the mail.
_CONSENT_DENIED = _rx(
    r"\bi (?:have |had )?never (?:ever )?(?:signed up|subscribed|registered|opted[- ]?in|"
    r"agreed|consented|(?:gave|given) (?:you )?(?:my |any )?(?:consent|permission)|"
    r"asked (?:for|to (?:be|receive|get)))\b",
    r"\bi did(?: not|n't) (?:ever )?(?:sign up|subscribe|register|opt[- ]?in|consent|"
    r"give (?:you )?(?:my |any )?(?:consent|permission))\b",
    r"\bwithout (?:my|our|any) (?:prior )?(?:consent|permission|approval)\b",
    r"\b(?:ich )?(?:habe|hab|hatte) (?:\w+ ){0,4}(?:nie|niemals|nie(?:mals)? und nimmer)"
    r"(?: \w+){0,4} (?:zugestimmt|eingewilligt|angemeldet|eingetragen|bestellt|abonniert|"
    r"erlaubt|registriert)\b",
    r"\b(?:nie|niemals|keine) (?:eine )?(?:einwilligung|zustimmung|erlaubnis)\b",
    r"\bohne (?:meine|unsere|jede) (?:vorherige )?(?:einwilligung|zustimmung|erlaubnis)\b",
    r"\bje n'ai jamais (?:accept[ée]|consenti|autoris[ée]|demand[ée]|souscrit|donn[ée] "
    r"(?:mon |aucun )?(?:consentement|accord|autorisation))\b",
    r"\bje ne me suis jamais (?:inscrit|abonn)", r"\bsans (?:mon|notre) (?:consentement|"
    r"accord|autorisation)\b",
    r"\bnunca (?:he dado|di|d[íi]|otorgu[ée]) (?:mi |ning[úu]n )?(?:consentimiento|permiso|"
    r"autorizaci[óo]n)\b", r"\bnunca (?:me (?:he suscrito|suscrib[íi]|he apuntado|apunt[ée]|"
    r"di de alta|he registrado|registr[ée])|acept[ée]|autoric[ée]|ped[íi]|solicit[ée])\b",
    r"\bsin (?:mi|nuestro) (?:consentimiento|permiso|autorizaci[óo]n)\b",
    r"\bnon (?:ho )?mai (?:dato|espresso|fornito|prestato|accordato) (?:il )?(?:mio |alcun )?"
    r"consenso\b", r"\bnon mi sono mai (?:iscritt|registrat)",
    r"\bnon ho mai (?:accettato|autorizzato|richiesto|chiesto)\b",
    r"\bsenza (?:il mio|il nostro|alcun) consenso\b",
    r"\b(?:ik )?heb (?:me |mij )?(?:hier )?nooit (?:\w+ ){0,3}(?:aangemeld|ingeschreven|"
    r"toestemming (?:voor )?gegeven|aangevraagd|akkoord gegeven)\b", r"\bnooit toestemming\b",
    r"\bzonder (?:mijn|onze) toestemming\b",
    r"\bnigdy nie (?:wyra[żz]a[łl]\w* zgody|zapisywa[łl]\w*|zapisa[łl]\w*|zgodzi[łl]\w*|"
    r"prosi[łl]\w*)", r"\bbez (?:mojej|naszej) zgody\b",
    r"\bnunca (?:dei (?:o meu )?consentimento|autorizei|me inscrevi|me registei|"
    r"me cadastrei|pedi)\b", r"\bsem o (?:meu|nosso) consentimento\b",
)
# What else consent is denied to: a price, a contract, terms, a charge (invoices and
# reminders are things already, _NOT_ME_THINGS).
_CONSENT_OTHER = _rx(
    r"\b(?:price|prices|pricing|terms|conditions|contract|charges?|fees?|payments?|renewal|"
    r"upgrade|tariff|preis\w*|agb|bedingungen|vertrag\w*|geb[üu]hr\w*|zahlung\w*|"
    r"verl[äa]ngerung|tarif\w*|prix|contrat|frais|pr[ée]l[èe]vement|precio|contrato|"
    r"cargo|prezzo|contratto|addebito|prijs|voorwaarden|cena|umow\w*|pre[çc]o)\b",
)
_NOT_ME_OBJECTS = _rx(
    r"\b(?:basket|cart|order|warenkorb|auftrag|bestellung|panier|commande|carrito|pedido|"
    r"carrello|ordine|winkelwagen|bestelling|koszyk|zam[óo]wieni|заказ\w*|посылк\w*|"
    r"пратк\w*|поръчк\w*|замовлен\w*|посилк\w*|пакет\w*)\b",
)
# A payment card, a delivery address, an event: "abmelden" from a webinar, "dar de baja" a
# card is not the person's mail, whoever is named, unless the sentence names mail too.
_NOT_ME_THINGS = _rx(
    r"\b(?:credit|debit|payment|bank|saved|stored) cards?\b",
    r"\b(?:kredit|bank|ec|giro|zahlungs)karten?\b", r"\btarjetas?\b", r"\bcarte bancaire\b",
    r"\bcarta di credito\b", r"\bkart[ayę] (?:p[łl]atnicz|kredytow)", r"\bcart[ãa]o\b",
    r"\b(?:delivery|shipping) address\b", r"\bliefer(?:adresse|anschrift)\b",
    r"\badres\w* dostawy\b", r"\bdirecci[óo]n de (?:env[íi]o|entrega)\b",
    r"\badresse de livraison\b", r"\bdonn[ée]es (?:de livraison|bancaires|de paiement)\b",
    r"\bsz[áa]ll[íi]t[áa]si c[íi]m\w*", r"\bdoru[čc]ovac[íi] adres\w*", r"\badres\w* doru[čc]en\w*",
    r"\badres\w* de livrare\b", r"\badres\w* za dostavu\b", r"διε[υύ]θυνσ\w* αποστολ[ήη]ς",
    r"\bindirizzo di (?:consegna|spedizione)\b",
    r"\b(?:aflever|bezorg)adres\b", r"\b(?:morada|endere[çc]o) de entrega\b",
    # a postal address: "ta bort min gamla adress (Storgatan 14) från mitt kundkonto"
    r"(?<!-)\b(?:postal|post|home|billing) address\b",
    r"(?<!-)\b(?:post|rechnungs|wohn)(?:adresse|anschrift)\b",
    r"(?<!-)\bpostadress\b", r"\badresse postale\b", r"\bdirecci[óo]n postal\b",
    r"\bindirizzo postale\b",
    r"\b(?:адрес\w*|адрес\w*) (?:для )?доставк\w*", r"\b(?:почтов|поштов)\w* адрес\w*",
    r"\b[A-ZÄÖÜÅ][a-zäöüåéè]+(?:stra(?:ß|ss)e|str\.|gatan|gata|v[äa]gen|weg|gasse|laan|straat|"
    r"vej|veien) \d{1,4}[a-z]?\b",
    # an invoice, a reminder, a price rise: "Widerspruch gegen Ihre Mahnung"
    r"\b(?:\w*mahnung\w*|\w*rechnung\w*|zahlungserinnerung\w*|mahngeb[üu]hr\w*|preiserh[öo]hung\w*|"
    r"preisanpassung\w*|abbuchung\w*|lastschrift\w*|bescheid\w*|invoices?|payment reminders?|"
    r"price (?:increase|rise)s?|factures?|fattur[ae]|facturas?|facturen|factuur|faktur\w*)\b",
    # a gym, a club, a membership: "darme de baja del gimnasio"
    r"\b(?:gym|gimnasio|palestra|fitness-?studios?|sportschool|salle de sport|mitgliedschaft|"
    r"membership|lidmaatschap)\b", r"מועדון|החיוב|חיוב חודשי|דמי מנוי",
    # an alert the person set up: "l'alerte « retour en stock »", "the back-in-stock alert"
    r"\balertes? (?:«\s*)?(?:retour en stock|de prix|de disponibilit[ée])",
    r"\b(?:back-in-stock|price|stock) alerts?\b",
    # whole words only: "of course", "in any event", "terminate" are no events
    r"\b(?:d[ée]gustations?|tastings?|verkostung(?:en)?|degustazion[ei]|degustaci[óo]n|"
    r"proeverij(?:en)?)\b",
    r"\b(?:webinare?n?|webinars|seminare?n?|seminars|veranstaltung(?:en)?|workshops?|"
    r"schulung(?:en)?|konferenz(?:en)?|kurse?n?|termine?n?|webinaires?|ateliers?|"
    r"s[ée]minaires?|conf[ée]rences?|eventos?|corsi|corso|talleres?|cursos?|seminarios?|"
    r"cursus|szkoleni[ea]|warsztat(?:y|ów)?|webin[áa]ri[ao]s?|meetup\w*|radionic\w*|"
    r"predavanj\w*|kurz(?:u|y|ů))\b",
    # a camp, a raffle entry, a delivery, a box: "vom Sommercamp abmelden", "die zweite
    # Teilnahme austragen", "die Lieferung für Freitag abbestellen", "die Kochbox abbestellen"
    r"\b\w*camps?\b", r"\bferienlager\b", r"\b(?:teilnahme|gewinnspiel|verlosung)\w*",
    r"\blieferung(?:en)?\b", r"\b(?:la |ma |votre |une )box\b",
    r"\b\d+\s?(?:g|kg|gr|ml|cl)\b", r"\b(?:portions?|morceaux|tranches?|barquettes?)\b",
    r"\bprograma (?:de (?:fidelidad|puntos)|\S+ plus)\b",

    r"\b(?:koch|gemüse|obst|wein|kaffee|tee|bier|snack|abo|überraschungs|rezept|frische|bio|"
    r"brot|genuss)-?box(?:en)?\b",
    # a race or a tournament: "uitschrijven voor de 10 km van zondag"
    r"\b(?:\d+ ?km|(?:halve )?marathons?|halbmarathons?|wedstrijd(?:en)?|toernooi(?:en)?|"
    r"turnier(?:e|en)?|wettk[äa]mpfe?|races?|gara|carrera|volkslauf|stadtlauf|staffellauf)\b",
)
# A sentence naming mail is about mail, whatever else it names.
_MAIL_WORDS = re.compile(
    r"\b(?:e-?mails?|mails?|newsletters?|einladung\w*|invitations?|nachrichten|messages|"
    r"werbung|marketing|correos?|courriels?|wiadomo[śs]ci|mailings?|offers?|angebote?|"
    r"promotions?|promociones|ofertas?|offres?|offerte|aanbiedingen|publicidad|"
    r"publicit[ée]s?|pubblicit[àa]|reklam\w*|warenkorb-?erinnerungen|erinnerungs-?(?:e-?)?mails?|"
    r"reminder e-?mails?|cart reminders|correus?|butllet[íi]ns?|publicitat|publicidade|"
    r"buletin\w*|publizitate\w*|corr[èe]us)\b", re.I)
_QUESTION_WORD = re.compile(
    r"^(?:how|can|could|may|is|are|do|does|did|why|where|wie|kann|k[öo]nnen|wo|warum|"
    r"comment|pourquoi|est-ce|c[óo]mo|puedo|por qu[ée]|come|posso|perch[ée]|hoe|kan|waarom|"
    r"jak|czy|dlaczego)\b", re.I)
# A report of a click on our link made by mistake ("accidentally hit unsubscribe"):
# the click itself took effect or not; the words are not a request.
_MISTAKE = _rx(
    r"\b(?:accidentally|accidently|by mistake|by accident|mistakenly|unintentionally|"
    r"versehentlich|aus versehen|irrt[üu]mlich|par erreur|par accident|sans le vouloir|"
    r"por error|por equivocaci[óo]n|sin querer|per errore|per sbaglio|per ongeluk|per abuis|"
    r"per vergissing|przez pomy[łl]k[ęe]|przypadkowo|omylem|omylom|nechtěně|nechtiac|"
    r"vahingossa|ved en fejl|slu[čc]ajno|nehotice|pomotom|po pomoti|nechtiac|omylom|"
    r"ved et uhell|av misstag|v[ée]letlen[üu]l|din gre[șşs]eal[ăa]|yanl[ıi][şs]l[ıi]kla|"
    r"по ошибке|случайно|випадково|κατ[άα] λ[άα]θος|por engano|sem querer|gre[šs]kom|"
    r"pogre[šs]no|по грешка)\b",
    r"不小心", r"误点", r"誤點", r"間違えて", r"誤って", r"うっかり", r"실수로",
    r"ভুল করে", r"गलती से", r"\bбез да искам\b", r"\bневолно\b", r"\bпо невнимание\b",
    r"\bнечаянно\b", r"\bвипадково\b", r"\bgalti se\b", r"โดยไม่ได้ตั้งใจ", r"\bnhầm\b", r"\bnham\b",
    r"\btidak sengaja\b", r"\btak sengaja\b",
    r"\bprzez przypadek\b", r"\bprzypadkiem\b", r"\bn[áa]hodou\b", r"\bper klaid[ąa]\b",
    r"\byanl[ıi][şs]l[ıi]kla\b", r"\bs[əe]hv[əe]n\b", r"\bқателесіп\b",
    r"\bkļūdas pēc\b", r"\bkogemata\b", r"\bvahingossa\b", r"\bvéletlenül\b",
    r"\bb(?:e|i)l ?(?:ghalat|8alat|ghalta)\b", r"\bbla ma n(?:q|9)sed\b", r"بالغلط", r"بدون قصد",
    r"بلا ما نقصد", r"عن طريق الخطأ",
)
# The mistake must be a click on our link ("I accidentally signed up, unsubscribe me"
# is an objection).
_CLICK = _rx(
    r"\b(?:click\w*|hit|pressed|tapped|klick\w*|geklickt|gedr[üu]ckt|cliqu\w*|clic|"
    r"puls\w*|clicc\w*|geklikt|klik\w*|klikk\w*|klickade|t[ıi]klad\w*|"
    r"bast[ıi]m|нажал\w*|нажав|кликн\w*|натисн\w*|π[άα]τησα|clicou|cliquei|apertei|"
    r"carregu?ei|(?:am|a|au) ap[ăa]sat|(?:am|a|au) dat click|kattintottam|appuy\w*|"
    r"tap[ée]|touch[ée]|"
    r"getippt|angetippt|toqu[ée]|presion[ée]|premuto|toccato|gedrukt|getikt|gekommen|"
    r"geraten|"
    r"nacisn[ąa][łl]\w*|toquei|dost|dast|clickit|cliquit|ضغطت|كبست|نقرت|دست|paspaud\w*|"
    r"nospied\w*|vajutasin|painoin|r[áa]kattintottam|nyomtam|megnyomtam|dokun\w*)\b",
    r"点了", r"点击", r"點擊", r"クリック", r"押して", r"눌렀", r"클릭",
)
def _mistaken_unsubscription(s: str, phrases: list[re.Match[str]]) -> bool:
    """A mistake word next to the sender's report of having unsubscribed (_PAST_SELF: "I
    unsubscribed by mistake", "je me suis désabonnée par erreur"), in one clause, and
    every objection phrase of the sentence inside that report ("I accidentally
    unsubscribed, please unsubscribe me anyway" still asks)."""
    for u in _PAST_SELF.finditer(s):
        for k in _MISTAKE.finditer(s):
            gap = s[u.end():k.start()] if k.start() >= u.end() else s[k.end():u.start()]
            if len(gap) > 30 or re.search(r"[,;.!?:]", gap):
                continue
            lo, hi = min(u.start(), k.start()), max(u.end(), k.end())
            if all(lo - 12 <= p.start() and p.end() <= hi + 12 for p in phrases):
                return True
    return False


# "Can you …?" with an objection is a polite request, not a question about one.
_POLITE_OPENER = (
    r"(?:(?:please|bitte|s'il vous pla[îi]t|por favor|per favore)[, ]+)?(?:(?:can|could|would|"
    r"will) you(?: please| kindly)?\b|(?:k[öo]nnen|k[öo]nnten|w[üu]rden) sie\b|(?:k[öo]nnt|"
    r"k[öo]nntet|w[üu]rdet) ihr\b|(?:kannst|k[öo]nntest|w[üu]rdest) du\b|(?:pouvez|"
    r"pourriez)[- ]vous\b|(?:willen|kunnen|zouden) jullie\b|(?:wilt|wil|kunt|zou) u\b|"
    r"k[ëe]nnt dir\b|k[ëe]ns du\b|"
    r"(?:wil|kun|zou) je\b|¿?(?:me |nos )?pod[ée]is\b|¿?(?:me |nos )?podr[íi]ais\b|"
    r"mporei(?:te|s)\b|"
    r"μπορε[ίι](?:τε|ς)\b|אפשר|ممكن|تقدروا|"
    r"¿?(?:me |nos )?(?:pueden|podr[íi]an|puede|podr[íi]a|podem|poderiam|pode|poderia)\b|"
    r"(?:kunt|kunnen|zoudt) (?:ge|gij|u|jullie)\b|"
    r"(?:potete|potreste|pu[òo]|potrebbe)\b|(?:kunt u|kunnen jullie|zou u|zouden jullie)\b|"
    # Catalan, Galician: "Podeu esborrar …?", "Podedes borrarme …?"
    r"(?:em |ens )?(?:podeu|podr[íi]eu|pots|podries)\b|(?:me |nos )?(?:podedes|poder[íi]ades)\b|"
    # Italian asks in the present: "Mi togliete dalla lista?", "Ci cancellate, per favore?"
    r"(?:mi|ci) (?=(?:togliete|cancellate|levate|eliminate|rimuovete|disiscrivete|depennate|"
    r"stralciate|cancella|toglie|rimuove|elimina)\b)|"
    r"czy (?:mo[żz]e|mogliby|mog[łl]aby)\w*|(?:kan|kunne|kunde|vil|ville|skulle) (?:i|du|ni|"
    r"de|dere|dykk)\b|(?:voisitteko|voisitko|voitteko)\b|(?:kas )?(?:te |sa )?(?:saaksite|"
    r"v[õo]iksite|saaksid)\b|(?:vai )?(?:j[ūu]s |tu )?var[ēe]tu\b|(?:ar )?gal[ėe]tum[ėe]te\b|"
    r"tudn[áa](?:nak|n[áa]k|l)\b|(?:ali )?(?:me |nas )?lahko\b|"
    r"(?:m[ůu][žz]ete|mohli byste|mohli by ste|m[ôo][žz]ete)\b|(?:pute[țţt]i|a[țţt]i putea)\b|"
    r"(?:можете|могли бы|можете ли)\b|μπορε[ίι]τε\b|"
    r"(?:g[æa]tu[ðd]|geti[ðd]) [þt]i[ðd]\b|(?:mo[žz]ete li|mo[žz]ete|da li biste)\b|"
    r"(?:можете ли|да ли бисте)\b|(?:ahal (?:duzue|duzu))\b|"
    r"(?:would|do) you mind\b|would it be possible (?:for you )?to\b|"
    r"(?:vous pouvez|vous pourriez|tu peux|tu pourrais)\b|"
    # Singapore English: "Can remove me from this mailing list or not?"
    r"can(?= (?:help )?(?:remove|unsubscribe|take|stop|delete)\b)|"
    # Swiss German: "Chönd ihr mich bitte …?", "Chönnted Sie …?"
    r"(?:ch[öo]nd|ch[öo]nnt(?:ed|et)?|ch[öo]ntet) (?:ihr|sie|si)\b|ch[öo]nntisch\b|chasch\b)")
_POLITE = re.compile("^" + _POLITE_OPENER, re.I)
# The same request after a clause ("We've moved abroad, so there's no point any more -
# would you kindly remove me from the list?"): a polite opener at a clause boundary,
# right before the objection.
_POLITE_MID = re.compile(
    r"(?:^|[,;:–—]\s*|\s-\s*|\b(?:so|and|but|then|und|aber|also|dann|deshalb|daher|et|mais|"
    r"donc|alors|y|pero|así que|e|ma|quindi|en|maar|dus)\s+)"
    + _POLITE_OPENER + r"(?: (?:bitte|mich|uns))*[\w ]{0,25}$", re.I)
# Words that open a sentence without changing what it asks ("Separately, could you …?").
_LEAD = re.compile(r"^(?:(?:and|also|separately|additionally|oh|ok(?:ay)?|btw|by the way|"
                   r"otherwise|one more thing|und|auch|au[sß]erdem|[üu]brigens|ansonsten|"
                   r"noch was|et|aussi|sinon|par ailleurs|y|adem[áa]s|por cierto|e|inoltre|"
                   r"en|verder|trouwens|i|poza tym|while you(?:'re| are) at it|"
                   r"wo (?:ihr|sie) (?:gerade )?dabei (?:seid|sind))\b[,.!:]*\s*)+", re.I)
_HOW = re.compile(r"\b(?:how|wie|comment|c[óo]mo|come|hoe|jak|como|hvordan|hur|miten|"
                  r"hogyan|cum|nas[ıi]l|как|як|π[ώω]ς|where|wo|o[ùu]|d[óo]nde|dove|waar)\b",
                  re.I)
_PAST_SELF = _rx(r"\bi (?:hit|clicked|pressed|tapped|used|followed) (?:on )?(?:the |your )?"
                 r"unsubscribe\b",
                 r"\bhatte mich\b.{0,30}\babgemeldet\b", r"\bi (?:had |have )?(?:already |"
                 r"accidentally |mistakenly )?unsubscribed\b",
                 r"\bmich (?:schon|bereits) abgemeldet\b",
                 r"\bhabe? (?:diese|meine|die|unsere) (?:e-?mail-?)?adresse\b.{0,60}"
                 r"\babgemeldet\b",
                 r"\bhabe? mich\b.{0,60}\babgemeldet\b", r"\bje me suis (?:d[ée]j[àa] )?"
                 r"d[ée]s(?:inscrit|abonn)", r"\bme (?:di|he dado) de baja\b",
                 r"\bmi sono (?:gi[àa] )?(?:disiscritt|cancellat)", r"\bik heb me\b.{0,20}"
                 r"\bafgemeld\b", r"\bwypisa[łl](?:em|am) si[ęe]\b",
                 r"\babonelikten [çc][ıi]kt[ıi]m\b", r"\baboneli[ğg]imi iptal ettim\b",
                 r"\b(?:sudah|telah|udah) (?:berhenti (?:ber)?langganan|berhenti melanggan|"
                 r"unsub\w*|nyahlanggan)", r"\bobunani bekor qil(?:dim|ganman)\b",
                 r"\bmi (?:jam )?malabonis\b",
                 r"আনসাবস্ক্রাইব কর(?:ে ফেলেছিলাম|ে ফেলেছি|েছিলাম|েছি)",
                 r"अनसब्सक्राइब (?:कर|हो) (?:दिया|गया|लिया)",
                 r"\bunsubscribe (?:kar|ho) (?:diya|gaya|liya|di|gayi)\b",
                 r"\b(?:kont )?dert (?:le |l |el )?(?:d[ée]sabonnement|unsubscribe)\b",
                 r"\babonelikten [çc][ıi]km[ıi][şs][ıi]m\b", r"\bбас тарттым\b",
                 r"\babun[əe]likd[əe]n [çc][ıi]x(?:d[ıi]m|m[ıi][şs]am)\b",
                 r"\bjam [çc]regjistruar\b", r"\bnimejiondoa\b", r"\bme descadastrei\b",
                 r"\bme desuscrib[íi]\b", r"\bme di de baja\b",
                 r"\bsam se\b.{0,30}\bodjavi(?:o|la)\b", r"\bodjavi(?:o|la) sam se\b",
                 r"\bjsem se odhl[áa]sil", r"\bsem se odjavil",
                 r"\b(?:em|me) vaig donar de baixa\b", r"\bme di de baixa\b",
                 r"\bотписал(?:ся|ась|ись)\b", r"\bвідписав(?:ся|ла?ся)\b",
                 r"\bperuin (?:\w+ )?tilauksen\b", r"\bmeldt meg av\b", r"\bmeldte meg av\b")
_NOT_INTERESTED = re.compile(
    r"^(?:(?:no|nein|non|nee)[,.! ]+)?(?:(?:thanks|thank you|danke|merci|gracias|grazie|"
    r"bedankt)[,.! ]+)?(?:not interested|no interest|kein interesse|pas int[ée]ress[ée]e?|"
    r"no me interesa|non mi interessa|geen interesse|nie jestem zainteresowan[ya])"
    r"(?:[,.! ]+(?:thanks|thank you|danke|merci|gracias|grazie|bedankt))?[.! ]*$", re.I)
# Already unsubscribed and still receiving: the objection stands, made again.
_STILL = _rx(r"\b(?:still|keep getting|keep receiving|trotzdem|immer noch|noch immer|weiterhin|"
             r"toujours|encore|todav[íi]a|sigo recibiendo|siguen (?:llegando|mandando|enviando)|"
             r"continuo (?:a )?receb\w*|ainda (?:recebo|chegam?)|continuam? chegando|"
             r"ancora|nog steeds|nog altijd|"
             r"nadal|wci[ąa][żz]|ci[ąa]gle|dalej (?:przychodz\w*|dostaj\w*)|m[ée]g mindig|"
             r"h[âa]l[âa]|masih|hali ham|haligacha|da[ŭu]re|ankora[ŭu]|h[əe]l[əe] d[əe]|"
             r"akoma|bado|h[êe] j[îi]|h[îi]n j[îi]|әлі|"
             r"(?:and )?yet here (?:we are|it is|they are)|"
             r"here we are again|edelleen|yh[äa]|likevel|framleis|fortsatt|fremdeles|stadig)\b")
_AGAIN_AND_AGAIN = _rx(r"\b(?:wie oft|how many (?:more )?times|combien de fois|cu[áa]ntas veces|"
                       r"quante volte|hoe vaak|ile razy)\b")
# "Please delete my old address and use the new one": an address change, for a human.
_ADDRESS_CHANGE = _rx(r"\b(?:alte|old|former|ancienne|antigua|vecchi[ao]|oude|star[ya])\b.{0,40}"
                      r"\b(?:neue|new|nouvelle|nueva|nuov[ao]|nieuwe|now[ya])\b",
                      # "Mening yangi … manzilim … eski manzilimni o'chirib qo'ying"
                      r"\b(?:yangi|yeni|новый|новая|новий|нова)\b.{0,80}\b(?:eski|old|стар\w*)\b",
                      r"\b(?:eski|старый|старий|старого) (?:e-?pochta |e-?posta |электронный )?"
                      r"(?:manzil|adres|адрес)\w*",
                      # "unsubscribe my old account and keep this one"
                      r"\b(?:old|former|other|alte\w*|andere\w*)\b.{0,40}\b(?:keep|leave|"
                      r"behalten\w*) (?:this|the new|my new|diese\w*) ?(?:one|address|account)?\b")
_NOT_SIGN_UP = re.compile(r"\b(?:don't|do not|nicht|no)\b.{0,10}\b(?:sign|subscribe|anmelden)",
                          re.I)
_FOOTER_LABEL = re.compile(r"[:：]\s*(?:<?https?://|www\.)", re.I)
_SUBJECT_PREFIX = re.compile(r"^\s*(?:(?:re|aw|wg|fw|fwd|sv|vs|tr|r|rif|odp|antw)\s*:\s*)+",
                             re.I)


_SUBJECT_TAIL = re.compile(r"\s+(?:/|\||–|—|-{1,2}|::)\s+")
# What is read of a reply: its first HEAD and last TAIL characters (a person's objection
# is at the start or the end of what they wrote), as sentences of at most SENTENCE
# characters (a longer run without a full stop is read in pieces), at most 200 of them.
# The phrase list is long (about 3.5 us a character, 20 on runs of Cyrillic "не"): a
# hostile 200 KB one-sentence reply took up to 1 s unbounded, 20-300 ms with these.
HEAD, TAIL, SENTENCE = 8_000, 4_000, 1_000
SUBJECT_MAX = 500


def _pieces(sentence: str) -> list[str]:
    if len(sentence) <= SENTENCE:
        return [sentence]
    out: list[str] = []
    rest = sentence
    while rest and len(out) < 200:
        if len(rest) <= SENTENCE:
            out.append(rest)
            break
        cut = rest.rfind(" ", SENTENCE // 2, SENTENCE)
        cut = cut if cut > 0 else SENTENCE
        out.append(rest[:cut])
        rest = rest[cut:].lstrip()
    return out


def _read_whole(text: str) -> bool:
    return len(text) <= HEAD + TAIL


def _read_part(text: str) -> str:
    return text if _read_whole(text) else text[:HEAD] + "\n" + text[-TAIL:]


_CONTINUES = ("die", "der", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "und",
              "von", "vom", "mit", "für", "fur", "zum", "zur", "the", "an", "of", "and", "for",
              "with", "from", "les", "du", "et", "los", "las", "il", "di", "het", "een", "van")
_WRAPPED = re.compile(r"(?:(?<=[^\n.!?:;]{55})|(?<=[^\W\d_,]))[ \t]*\n"
                      r"(?=[ \t]*[(\[\"'„“«]?[^\W\d_A-ZÄÖÜÀ-Þ])|"
                      r"(?<=[^\n.!?:;]{55})[ \t]*\n(?=[ \t]*[(\[\"'„“«]?[^\W\d_])|"
                      # a line ending on an article or preposition goes on ("vom Montag die
                      # ⏎Teleskopstöcke abbestellen"), whatever the next word's case
                      r"(?:" + "|".join(f"(?<=[ \t]{w})" for w in _CONTINUES) + r")[ \t]*\n"
                      r"(?=[ \t]*[^\W\d_])")
_PS = re.compile(r"^(?:p\.?\s?p?\.?\s?s\.?|p\.\s?d\.?(?=\s*:|\s)|pd(?=\s*:)|n\.\s?b\.?|υ\.\s?γ\.?|"
                 r"נ\.ב\.?)"
                 r"(?:\s*[:–—-]\s*|\s+)", re.I)


def in_postscript(text: str, sentence: str) -> bool:
    """Whether `sentence` of `text` is in a postscript ("PS: …", "P.S. …", the sender's
    own words below a sign-off): its line, or the line its paragraph opens with, does."""
    if _PS.match(sentence.strip()):
        return True
    at = text.find(sentence.strip()[:60])
    if at < 0:
        return False
    para = max(text.rfind("\n\n", 0, at), text.rfind("\r\n\r\n", 0, at))
    start = 0 if para < 0 else para
    return bool(_PS.match(text[start:at + 1].strip()))


def _normal(text: str) -> str:
    # typographic apostrophes ("don’t") read as the ASCII one the phrases are written with
    return unicodedata.normalize("NFKC", _read_part(text)).replace("’", "'").replace("ʼ", "'")


def _wrapped_lines(text: str) -> list[str]:
    """The lines _sentences joins to their neighbour, each on its own (at most 40)."""
    lines = _normal(text).split("\n")
    out: list[str] = []
    for a, b in itertools.pairwise(lines):
        if len(out) < 40 and _WRAPPED.search(a[-60:] + "\n" + b[:3]):
            out.extend(x.strip() for x in (a, b) if x.strip())
    return list(dict.fromkeys(out))


# "am 14. November angemeldet": a day's number before a month ends no sentence.
_MONTH = re.compile(
    r"(?:jan(?:uar|uary|vier)?|j[äa]nner|feb(?:ruar|ruary)?|f[ée]vrier|m[äa]r(?:z|ch)?|mars|"
    r"apr(?:il)?|avril|ma[iy]|juni?|june|juin|juli?|july|juillet|aug(?:ust)?|ao[ûu]t|"
    r"sep(?:t|tember)?|septembre|o[ck]t(?:ober)?|octobre|nov(?:ember)?|novembre|"
    r"de[cz](?:ember)?|d[ée]cembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|"
    r"septiembre|octubre|noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|"
    r"settembre|ottobre|dicembre|januari|februari|maart|mei|augustus)\b\.?", re.I)
# "Teleskopstöcke (Art. 22810)", "gemäß Art. 17 DSGVO", "Nr. 5": an abbreviation before a
# number ends no sentence.
_ABBREV_END = re.compile(r"(?:^|[\s(])(?:art|nr|no|str|abs|ziff|kap|tel|fax|s|p|pp|ca|vol|"
                         r"bd|ref|inv|par|§)\.$", re.I)
# "kënnt Dir mech w.e.g. aus dem Verteiler huelen?", "z.B. die", "bzw. die": a dotted
# abbreviation before a lower-case word ends no sentence.
_DOTTED_ABBREV = re.compile(r"(?:^|[\s(])(?:(?:[^\W\d_]\.){2,}|(?:bzw|evtl|ggf|usw|vgl)\.)$")
_CODE_START = re.compile(r"\d|[A-Z]{1,6}-?\d")
_DATE_END = re.compile(r"(?:^|[\s(])\d{1,2}\.(?:\d{1,2}\.(?:\d{2,4})?)?$")


# Dictated text ("… gar nicht mehr Punkt abmelden bitte Fragezeichen danke"): the spoken
# names of punctuation, in a line without any written, end its sentences. Not after a
# word that makes them a noun ("ein wichtiger Punkt", "the trial period"), not before a
# number ("Punkt 3").
_DICTATED = re.compile(
    r"(?<![.!?,;:])(?<!\bder)(?<!\bden)(?<!\bdem)(?<!\bein)(?<!\beinen)(?<!\bam)(?<!\bum)"
    r"(?<!\bzum)(?<!\bthe)(?<!\ba)(?<!\bthis)(?<!\bthat)(?<!\bper)(?<!\bone)(?<!\btrial)"
    r"(?<!\bnotice)(?<!\bgrace)(?<!\bbilling)(?<!\bwaiting)(?<!\bwichtiger)(?<!\bletzter)"
    r"(?<!\berster)(?<!\bnächster)(?<!\bwunder)(?<!\bknack)(?<!\bstand)"
    r" (?P<w>Punkt|punkt|period|full stop|Fragezeichen|fragezeichen|question mark|"
    r"Ausrufezeichen|ausrufezeichen|exclamation (?:mark|point)|point final)(?= [^\W\d]|\s*$)",
    re.M)
_SPOKEN_MARK = {"punkt": ".", "period": ".", "full stop": ".", "point final": ".",
                "fragezeichen": "?", "question mark": "?", "ausrufezeichen": "!"}


def _undictate(text: str) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not re.search(r"[.!?]", line) and _DICTATED.search(line):
            lines[i] = _DICTATED.sub(
                lambda m: _SPOKEN_MARK.get(m.group("w").lower(), "!"), line)
    return "\n".join(lines)


# A full stop, a danda, a line break; a question or exclamation mark after Chinese or
# Japanese even without a space ("配信止めてもらえますか?LINEで…"); an emoji before a
# capital ("… een beetje gek 😄 Wilt u mij …?").
_SENTENCE_END = re.compile(r"(?<=[.!?¡¿;।])\s+|\n+|(?<=[\u3040-\u30ff\u3400-\u9fff][!?])(?=\S)|"
                           r"(?<=[\U0001F300-\U0001FAFF\u2600-\u27BF])\s+(?=[A-ZÄÖÜÀ-Þ])")
_CJK_WRAP = re.compile(r"(?<=[\u3040-\u30ff\u3400-\u9fff])[ \t]*\n"
                       r"(?=[ \t]*[\u3040-\u30ff\u3400-\u9fff])")


def _sentences(text: str) -> list[str]:
    t = _undictate(_normal(text))
    # A hard-wrapped line goes on in the next ("Könnt ihr mich bitte\nrausnehmen?"): one
    # that ends without a full stop and is long, or is followed by a lower-case word.
    # Chinese and Japanese wrap without a space between the halves ("配信を⏎停止して")
    t = _CJK_WRAP.sub("", t)
    t = _WRAPPED.sub(" ", t)
    parts = _SENTENCE_END.split(t)
    joined: list[str] = []
    for p in parts:
        # "Ich habe mich am 12.01. abgemeldet": the periods of a date or an ordinal
        # before a lower-case word end no sentence.
        if joined and ((_DATE_END.search(joined[-1]) and (p[:1].islower() or _MONTH.match(p)))
                       or (_ABBREV_END.search(joined[-1]) and _CODE_START.match(p))
                       or (_DOTTED_ABBREV.search(joined[-1]) and p[:1].islower())):
            joined[-1] += " " + p
        else:
            joined.append(p)
    out: list[str] = []
    for p in joined:
        p = re.sub(r"\s+", " ", p).strip()
        if p:
            out.extend(_pieces(p))
        if len(out) >= 200:
            break
    return out[:200]


# "If you don't stop sending these, I'll report you": a negation in a condition put to
# us demands what it negates.
_IF_YOU = re.compile(r"\b(?:if|unless|wenn|falls|si|se|als)\s+(?:you|u|sie|ihr|vous|usted|"
                     r"ustedes|voi|jullie)(?:\s+(?:mich|uns|me|mij|ons|nous))?\s*$", re.I)


# German phrases with a gap ("melden Sie mich … ab"): a "nicht" in the gap negates them.
_GAPPED = ("melden sie", "tragen sie", "nehmen sie", "mich ", "uns ", "meine ", "abo",
           "newsletter", "werbung", "zusendungen", "haal ", "nehmt ", "tragt ", "streicht ",
           "werft ", "löscht ", "schickt ", "schicken sie", "streichen sie", "löschen sie",
           "entfernen sie", "entfernt ", "sendet ", "senden sie")
_GAP_NEGATION = re.compile(r"\b(?:nicht|keinesfalls|auf keinen fall|niemals|nie|niet|nooit)\b",
                           re.I)


# The newsletter as the way to something else, not what is left: "über den Link in
# Ihrem Newsletter für das Webinar angemeldet, muss mich aber wieder abmelden".
_MAIL_AS_MEANS = re.compile(
    r"\b(?:[üu]ber|via|through|durch|par|tramite|a trav[ée]s de|door|przez) (?:den |the |le |"
    r"el |il |de )?(?:link|lien|enlace|collegamento|knop|button|anmeldelink) (?:in|im|aus|from|"
    r"dans|de|en|nel|della|uit|in de) (?:ihrem|ihren|eurem|your|the|votre|la|vuestro|su|vostra|"
    r"la vostra|jullie|uw|de|dem|der) (?:newsletter|e-?mail|mail|nieuwsbrief)\b|"
    r"\b(?:[üu]ber|via|through) (?:ihren|ihrem|euren|your|the) (?:newsletter|e-?mail|mail)\b",
    re.I)
# Lists of an event, not of the mail: "remove me from the attendee list".
_EVENT_LIST = re.compile(
    r"\b(?:attendee|participant|guest|waiting|registration|speaker)s?'? list\b|\bwait-?list\b|"
    r"\b(?:teilnehmer|warte|g[äa]ste)-?liste\b|\bliste (?:des participants|d'attente|des "
    r"invit[ée]s)\b|\blista (?:de (?:asistentes|espera|participantes|invitados)|dei "
    r"partecipanti|d'attesa|degli invitati)\b|\b(?:deelnemers|wacht|gasten)lijst\b|"
    r"\blista (?:uczestnik[óo]w|oczekuj[ąa]cych|rezerwowa)\b", re.I)
# Another channel than mail: "togliermi dalla lista broadcast di WhatsApp", "den
# gedruckten Katalog abbestellen", "stop the texts". Its messages are not mail.
_OTHER_CHANNEL = re.compile(
    r"\b(?:(?:o |meu |o meu |mi |my (?:phone |mobile )?|meine (?:handy)?)n[úu]m(?:ero|ber|mer)|"
    r"whats-?app|sms|texts|text messages|telegram|signal|push(?:-| )?(?:notifications?|"
    r"nachrichten|mitteilungen)|anrufe?n?|calls|phone calls|calling|telefon(?:anrufe?|ate)?|"
    r"llamadas|telefonate|appels|telefoontjes|catalog(?:ue)?s?|katalog(?:e|s)?|catalogo|"
    r"cat[áa]logos?|catalogus|prospekte?|brochures?|folders?|flyers?|briefe|letters|"
    r"courriers? papier|posts?endungen|werbepost|printed|gedruckte\w*|papier|paper|"
    r"cartace\w*|impres\w*|drukowan\w*|papierow\w*|h[âa]rtie|pap[íi]rov\w*|tla[čc]en\w*|"
    r"nyomtatott|pap[íi]r|χαρτ[ιί]\w*|tiskan\w*|en papel|"
    # by post: "niente per posta" (not "per posta elettronica"), "par la poste", "by post"
    r"per posta(?! elettronica| certificata| elettr)|par (?:la )?poste|by (?:post|snail mail)|"
    r"per post(?!\w)|mit der post|por correo (?:postal|ordinario)|viber|(?-i:LINE)|"
    r"kakao\s?talk|wechat|"
    # Cyrillic: "от уведомлений в Телеграме", "від Viber-розсилки", "бумажный каталог"
    r"телеграм\w*|вайбер\w*|вотсап\w*|ватсап\w*|смс|sms-\w+|бумажн\w*|паперов\w*|"
    r"печатн\w*|друкован\w*|каталог\w*|листовк\w*|листівк\w*)\b|"
    # scripts without spaces between words: no \b ("LINEだけ配信停止", "카톡으로")
    r"(?-i:LINE)(?=[\u3040-\u30ff\u3400-\u9fff])|ライン|카카오톡|카톡|문자(?:로|는|만|메시지)|"
    r"微信|短信|簡訊|ショートメール|ＳＭＳ", re.I)
_CHANNEL_MESSAGES = re.compile(
    r"\b(?:whats-?app|sms|text|telegram|signal|push)[- ]?(?:messages?|nachrichten|messaggi|"
    r"mensajes|berichten|wiadomo[śs]ci)\b|\b(?:messages?|nachrichten|messaggi|mensajes|"
    r"berichten) (?:via|per|on|su|auf|por|op) (?:whats-?app|sms|telegram|signal)\b|"
    # the paper edition: "the printed newsletter", "die gedruckte Ausgabe", "la newsletter
    # cartacea"
    r"\b(?:paper|printed|print|postal|gedruckte[nmrs]?|papier|papieren|cartace[oa]|"
    r"imprim[ée]e?|impres[oa]|papierow\w*|tlačen\w*) (?:newsletters?|bulletins?|versions?|"
    r"cop(?:y|ies)|mailings?|magazines?|editions?|ausgaben?|rundbriefe?|nieuwsbrie\w*|"
    r"edizion[ei]|version[ei]|versie)\b|"
    r"\b(?:newsletters?|bulletins?|version[ei]?|edizion[ei]|nieuwsbrie\w*|ausgaben?) "
    r"(?:cartace[ae]|imprim[ée]e?|papier|impres[ao]|gedruckt\w*|op papier|in print|on paper)\b",
    re.I)


_MAIL_ITSELF = re.compile(r"\b(?:e-?mails?|mails?|newsletters?|courriels?|correos?|"
                          r"nieuwsbrie\w*)\b", re.I)


# "mailing" as the verb of posting: "stop mailing the printed bulletin to our house"
_MAILING_VERB = re.compile(r"\b(?:stop|cease|quit|keep|start|continue|end)\s+mailing\b"
                           r"(?!\s+lists?\b)", re.I)


def _names_mail(s: str) -> bool:
    """The sentence names mail as what it is about (not as the way to an event, not the
    messages of another channel, not "mailing" as the verb of posting)."""
    s = _MAILING_VERB.sub(" stop ", s)
    return bool(_MAIL_WORDS.search(_CHANNEL_MESSAGES.sub(" ", _MAIL_AS_MEANS.sub(" ", s))))


def _about_a_thing(s: str) -> bool:
    """The sentence names a card, an event, a delivery address, a gym or an order, and no
    mail: "Stop! Can you halt the delivery of my order?" """
    if _names_mail(s):
        return False
    return bool((_NOT_ME_THINGS.search(s) and not _LIST_WORDS.search(_MAIL_AS_MEANS.sub(" ", s)))
                or _NOT_ME_OBJECTS.search(s))


def _a_thing_not_the_person(s: str, m: re.Match[str]) -> str:
    """What the phrase removes when it is not the person's mail ("" when it is): a card,
    an event or a delivery address named, or an order item with no person or list right
    after the phrase; never in a sentence that names mail, but for a contract or a box
    named in the phrase's own clause ("cancel my subscription box, happy to keep the
    emails")."""
    own = _clause_of(s, m)
    if _CONTRACT.search(own) and not _names_mail(own):
        return "cancels a contract or a line, not the mail"
    if _names_mail(s):
        return ""
    if _EVENT_LIST.search(s):
        return "removes from an event's list, not the mail"
    # the thing in the phrase's own clause, or the sentence not split by a "so" ("On a
    # fermé l'atelier, donc merci d'arrêter les envois": what closed is not what stops)
    scope = _clause_of(s, m) if _SO.search(s[:m.start()]) else s
    if _NOT_ME_THINGS.search(scope) and not _LIST_WORDS.search(_MAIL_AS_MEANS.sub(" ", s)):
        return "removes a thing, not the person"
    if _NOT_ME_OBJECTS.search(s) and not _PERSON_OR_LIST.search(s[m.start():m.end() + 30]):
        return "removes an item, not the person"
    return ""


# A contract, a phone line, an internet access or a membership, in the phrase's own clause
# ("donar de baixa el contracte de la llum", "ADSLari baja eman diot"; not "Dadme de baja,
# no tengo ningún contrato con ustedes").
_CONTRACT = re.compile(
    r"\b(?:contracte|contrato|kontratu\w*|adsl\w*|fibra [óo]ptica|zuntz optiko\w*|gimnas\w*|"
    r"bazkidetza\w*)\b|\b(?:subscription|meal[- ]?kit|veg|recipe|snack|coffee) box(?:es)?\b|"
    r"\bassinatura (?:premium|paga|plus|anual|mensal|da revista)\b|\bplano (?:premium|pago)\b|"
    r"\b(?:premium|pro|plus|bezahl)-?abos?\b|"
    r"\bl[íi]ni[ae] (?:m[òo]bil|m[óo]vil|fixa|fija|de tel[eè]fon\w*|"
    r"telef[òó]nica)\b", re.I)


# a please-word between commas joins the clause around it: "Отпишите меня, пожалуйста, от
# уведомлений в Телеграме" names what it stops after the word
_PLEASE_WORDS = (r"please|pls|bitte|s'il vous pla[îi]t|merci de|por favor|per favore|per piacere|"
                 r"per cortesia|cortesemente|graag|alstublieft|gelieve|proszę|prosím|пожалуйста|"
                 r"будь ласка|калі ласка|моля|молим|lütfen|kérem")
_SET_OFF_PLEASE = re.compile(r",\s*(?:" + _PLEASE_WORDS + r")\s*,", re.I)
# a consequence drawn, between what happened and what is asked
_SO = re.compile(r"[,;]\s*(?:so|therefore|hence|also|deshalb|daher|darum|donc|alors|"
                 r"par cons[ée]quent|as[íi] que|por eso|quindi|perci[òo]|dus|daarom)\b", re.I)
_LIST_WORDS = re.compile(r"\b(?:list[aey]?|liste|lijst|verteiler|newsletter|nieuwsbrief|"
                         r"bolet[íi]n)\b", re.I)
_PERSON_OR_LIST = re.compile(r"\b(?:me|mich|us|uns|list|liste|newsletter|verteiler|adresse|"
                             r"address|e-?mail-?adresse|меня|нас|мене|рассылк\w*|розсилк\w*|"
                             r"списк\w*|список|подписк\w*|підписк\w*)\b", re.I)


_ACCOUNT = re.compile(r"(?:account|konto|compte|cuenta|profilo)\b", re.I)


def _clause_of(s: str, m: re.Match[str]) -> str:
    """The comma-, semicolon- or dash-delimited part of the sentence holding the match."""
    start = max((s.rfind(c, 0, m.start()) for c in ",;:–—"), default=-1) + 1
    ends = [i for i in (s.find(c, m.end()) for c in ",;:–—") if i >= 0]
    return s[start: min(ends) if ends else len(s)]


def _negated(s: str, m: re.Match[str]) -> bool:
    if _INHERENT_NEGATIVE.match(m.group(0)):
        return False
    if m.group(0).lower().startswith(_GAPPED) and _GAP_NEGATION.search(m.group(0)):
        return True
    start = max(0, m.start() - 40)
    n = _NEGATION_BEFORE.search(s[start:m.start()])
    if n is not None:
        return not _IF_YOU.search(s[max(0, start + n.start() - 20):start + n.start()])
    return bool(_NEGATION_AFTER.match(s[m.end():m.end() + 40]))


def _score(sentence: str) -> tuple[float, str, bool]:
    """(confidence, rule, review) for one sentence; confidence 0 means no objection."""
    s, slips = typos.repair(_PS.sub("", sentence.strip()))
    conf, rule, review = _score_read(s)
    if rule and slips:
        rule += " (read " + ", ".join(f"'{a}' as '{b}'" for a, b in slips[:3]) + ")"
    return conf, rule, review


def _score_read(s: str) -> tuple[float, str, bool]:
    low = s.lower().strip(" .!–-")
    if _FOOTER_LABEL.search(s):
        # "Hier abmelden: https://…" is our footer's link label, not a request.
        return 0.0, "", False
    # a question by its mark, or by its first word when no full stop says otherwise ("Wie
    # besprochen: bitte streichen Sie …." is no question)
    asked = _TAG_QUESTION.sub(".", s.rstrip())  # "…, tá?" / "…, right?" states, tags
    question = asked.endswith(("?", "？")) or bool(
        _QUESTION_WORD.match(low) and not asked.endswith((".", "!")))
    m = _STRONG.search(s)
    denied = _CONSENT_DENIED.search(s)
    if denied and not _NEGATION_BEFORE.search(s[:denied.start()]):
        said = denied.group(0)
        other = bool(_CONSENT_OTHER.search(s) or _about_a_thing(s))
        if (other and _MAIL_WORDS.search(s)) or (not other and _KEEP.search(s)):
            # "… not the new terms, nor these mails", "… but keep them coming": a human reads it
            return 0.5, f"consent denied, the mail or something else?: {said}", True
        if not other:
            return 0.85, f"consent denied: {said}", True
    if _ABOUT_US.search(s) and (m is None or question):
        return 0.35, "question about the address origin", True
    if _KEYWORD_ONLY.match(low):
        return 0.92, "keyword-only sentence", False
    if _NOT_INTERESTED.match(low):
        # "Not interested." in reply to a campaign: in this offer, or in the list?
        return 0.6, "not interested: the offer or the list?", True
    if not m:
        return 0.0, "", False
    phrase = m.group(0)
    if _INSTRUCTION.match(s):
        # "Para se descadastrar das nossas comunicações, acesse …": how to, not a request
        return 0.03, f"an instruction how to unsubscribe, not a request: {phrase}", False
    clause = re.split(r"[,;]", s[m.end():], maxsplit=1)[0]
    if _CONDITIONAL.match((s[:m.end()] + clause).strip()):
        return 0.03, f"an offer to whoever wishes, not a request: {phrase}", False
    if _PAST_SELF.search(s) and _KEEP.search(s):
        return 0.02, "re-subscription request", False
    # Every phrase negated cancels the sentence ("bitte NICHT abmelden"). Some negated and
    # some not is a sentence a rule cannot read: "they unsubscribe from everything, but
    # I won't unsubscribe from yours" keeps the reader, "the link does not unsubscribe
    # me, please remove me" objects. Unless a rule below explains it, a human decides.
    phrases = [m, *_STRONG.finditer(s, m.end())]
    named = [p for p in phrases if not _AS_A_NAME.match(s, p.end())
             and not _NAMED_BEFORE.search(s[max(0, p.start() - 30):p.start()])]
    if len(named) < len(phrases) and (_CLICK.search(s) or _AGAIN_AND_AGAIN.search(s)):
        named = phrases  # "how many times do I have to click that unsubscribe link"
    if not named and not question:
        # "your unsubscribe link goes to a German-only page": the word names the link,
        # the page, the button; it asks nothing a rule can read ("where is the
        # unsubscribe button?" stays a question about unsubscribing)
        return 0.3, f"the word names a link or page: {phrase}", True
    if named and named[0] is not m:
        m, phrases = named[0], named
        phrase = m.group(0)
    flags = [(n.group(0), _negated(s, n)) for n in phrases]
    negated = [p for p, neg in flags if neg]
    plain = [p for p, neg in flags if not neg]
    if not plain:
        return 0.02, f"negated: {negated[0]}", False
    if _MISTAKE.search(s) and (_CLICK.search(s) or _mistaken_unsubscription(s, phrases)):
        return 0.03, f"made by mistake, not a request: {phrase}", False
    if (_KEEP.search(s) and not _NOT_SIGN_UP.search(s)
            and re.search(r"\b(?:keep me|stay on|remain on|wieder|auch)\b|\b(?:subscribe|sign)"
                          r"\w* (?:me |us )?(?:up )?again\b|"
                          r"\b(?:add|put) (?:me|us) (?:back|again)\b"
                          r"|\breabon\w*|" + _SIGNED_UP_AGAIN + "|" + _STAYING,
                          s, re.I)):
        return 0.05, f"keeps or re-subscribes: {phrase}", False
    thing = _a_thing_not_the_person(s, m)
    if thing:
        return 0.03, f"{thing}: {phrase}", False
    clause = _clause_of(_SET_OFF_PLEASE.sub(lambda p: p.group(0).replace(",", " "), s), m)
    if _OTHER_CHANNEL.search(clause) and not _names_mail(clause):
        # "Please stop the SMS, the e-mails are fine": another channel's messages. An
        # objection to them is the person's too, but not to this mail: a human passes it on.
        return 0.3, f"another channel, not the mail: {phrase}", True
    if negated:
        return 0.5, f"negated and not: {negated[0]} / {plain[0]}", True
    if _quoted_mention(s, m):
        # 'eine Mail bekommen "Ihre Abmeldung vom Newsletter wurde bestätigt"': a message
        # quoted, not a request; the sentences around it say what the sender wants.
        return 0.3, f"a message quoted, not a request: {phrase}", True
    did = _OTHERS_DID.search(s)
    if did and not _PLEASE.search(s[did.end():]):
        return 0.3, f"someone else's doing, reported: {phrase}", True
    if _THREAT.search(s[:m.start()]):
        # "Si seguís así me voy a tener que dar de baja", "one more mail and I unsubscribe":
        # a threat, not yet the request; a human reads it.
        return 0.5, f"threatened or once meant, not asked: {phrase}", True
    advised = _ADVISED.search(s[:m.start()])
    if advised and not _PLEASE.search(s[advised.end():]):
        # "Mein Nachbar meint ja, ich soll mich endlich abmelden": someone's advice, told;
        # what the sender makes of it comes after (often "no way"). A human reads it.
        return 0.3, f"someone else's advice, reported: {phrase}", True
    own_clause = _clause_of(s, m)
    if _OTHER_PERSON.search(_SELF_INTRO.sub(" ", s)) and not (_MY.search(own_clause)
                                        and not _OTHER_PERSON.search(own_clause)):
        # "…, wie mein Mann es mir immer vorgeworfen hat: Bitte nehmen Sie meine Adresse
        # aus Ihrem Newsletter": the other person is elsewhere, the phrase says "my".
        return 0.5, f"about another person: {phrase}", True
    if _ADDRESS_CHANGE.search(s):
        return 0.4, f"an address change: {phrase}", True
    if _ACCOUNT.search(phrase):
        # "Please delete my customer account": its data go, and the mail to it with them;
        # honoured, and shown to a human, who deletes the account (consentry cannot).
        return 0.85, f"the account deleted: {phrase}", True
    if _AGAIN_AND_AGAIN.search(s[:m.start()]):
        return 0.95, f"objection made again: {phrase}", False
    if question and (any((_POLITE.match(_LEAD.sub("", low)) or _POLITE_MID.search(s[:p.start()]))
                         and not _HOW.search(s[:p.start()]) for p in phrases)
                     or _POLITE_END.search(s.rstrip())):
        return 0.9, f"polite request: {phrase}", False
    if question:
        return 0.6, f"question about unsubscribing: {phrase}", True
    return 0.95, f"objection phrase: {phrase}", False


# The unsubscribe link tried and failed: "the link doesn't work", "Token ungültig".
_LINK_FAILED = _rx(
    r"\blink\b.{0,40}\b(?:doesn't|does not|didn't|did not|won't|isn't|is not) "
    r"(?:work|working|load|open)\b", r"\b(?:broken|dead|expired|invalid) (?:unsubscribe )?link\b",
    r"\blink (?:is|was|seems|seems to be) (?:broken|dead|expired|invalid)\b",
    r"\blink\b.{0,60}\b(?:funktioniert nicht|geht nicht|klappt nicht)\b",
    r"\blink\b.{0,40}\bf[üu]hrt\b.{0,60}\b(?:fehler\w*|ins leere|ung[üu]ltig|nicht gefunden|404)",
    r"\b(?:token|link) (?:ist )?ung[üu]ltig\b",
    r"\blien\b.{0,40}\b(?:ne fonctionne pas|ne marche pas|est cass[ée]|renvoie une erreur)",
    r"\b(?:enlace|link)\b.{0,40}\bno funciona\b", r"\blink\b.{0,40}\bnon funziona\b",
    r"\blink\b.{0,40}\bwerkt niet\b",
    r"リンク.{0,20}(?:エラー|開け(?:ない|ません)|できません|無効)",
    r"(?:链接|連結|鏈接).{0,10}(?:打不开|打不開|无效|無效|错误|錯誤)",
    r"링크.{0,20}(?:오류|에러|안\s?돼|작동하지|열리지)",
)
# A request said politely at the end, in the languages that put it there: "メール止めて
# もらえますか？", "빼 주시겠어요?", "可以吗？"
_POLITE_END = re.compile(r"(?:て|で)(?:もらえ|いただけ|くれ)(?:ます|ません)か[?？]?$|"
                         r"주시겠어요[?？]?$|주실 수 있(?:나요|을까요)[?？]?$|可以吗[?？]?$|"
                         r"可以嗎[?？]?$|好吗[?？]?$|好嗎[?？]?$")
# The objection word as the name of a thing: "the unsubscribe link", "die Abmelde-Seite".
_AS_A_NAME = re.compile(r"\w*[\"'»“”’]?(?:-| )(?:link|links|page|button|option|process|form|"
                        r"url|footer|feature|function|seite|knopf|button|lien|bouton|enlace|"
                        r"p[áa]gina|pulsante|tasto|bottone|knop)\b", re.I)
# ... or after it, in quotes: 'il link "disiscriviti"', 'der Button „Abmelden"'
_NAMED_BEFORE = re.compile(r"\b(?:link|button|knopf|schaltfl[äa]che|lien|bouton|enlace|bot[óo]n|"
                           r"pulsante|tasto|bottone|voce|knop|przycisk)\s*[\"'«„“‚‹]\s*$", re.I)
# A tag at the end of a statement: "não precisa mais me mandar o boletim, tá?"
_TAG_QUESTION = re.compile(r",?\s*(?:t[áa]|n[ée]|ok(?:ay)?|right|ja|oder|non|hein|vale|eh|"
                           r"ne|gell?)\s*[?？]$", re.I)
# How to unsubscribe, as a notice puts it: "To unsubscribe from our notices, visit …"
_INSTRUCTION = re.compile(
    r"^\W*(?:to (?:unsubscribe|opt out|stop receiving)|para (?:se )?(?:descadastrar|darse de "
    r"baja|dar(?:se)? de baixa|cancelar)|pour (?:vous )?(?:d[ée]sinscrire|d[ée]sabonner)|"
    r"um (?:sich )?(?:abzumelden|vom newsletter abzumelden)|per (?:disiscriverti|"
    r"cancellarti)|om (?:je|u) af te melden|لإلغاء الاشتراك)\b.{0,80}[,،]", re.I)
_RESUB = re.compile(r"\b(?:wieder (?:eintragen|anmelden|aufnehmen)|re-?subscribe|subscribe me "
                    r"again|put me back|add me back|r[ée]inscri|reabon|colocar de volta)|"
                    + _SIGNED_UP_AGAIN, re.I)
# A threat, before the phrase: if it goes on, the sender will unsubscribe.
_THREAT = _rx(
    r"\bif (?:you|this|it|they) (?:keep|continue|carry on|go on)\b",
    r"\bone more (?:e-?mail|mail|newsletter|message)\b(?: \w+){0,3} (?:and|then)\b",
    r"\bwenn (?:das|ihr|sie|du|es) (?:so )?weiter(?:hin|macht|machen|geht|so)?\b",
    r"\bnoch (?:eine|so eine) (?:\w+-?)?mail\b(?: \w+){0,3} und\b",
    r"\bsi (?:segu[íi]s|sigues|siguen|sigue|contin[úu]an?|contin[úu]as) (?:as[íi]|mandando|"
    r"enviando)", r"\bsi (?:vous continuez|tu continues|[çc]a continue)\b",
    r"\bse (?:continuate|continui|continua|continuerete) (?:cos[ìi]|a)\b",
    # meant once, not now: "J'allais me désabonner … mais", "I was about to unsubscribe"
    r"\b(?:j'allais|i was going to|i was about to|iba a|estaba a punto de|stavo per|"
    r"i (?:expected|meant|intended|planned) to|"
    r"ich wollte (?:mich )?(?:schon|gerade|eigentlich|fast)|ik wilde (?:me )?(?:al|bijna))\b",
    r"\bals (?:jullie|u|je|dit) zo door", r"\bnog (?:één|een) (?:mail|e-?mail)\b(?: \w+){0,3} en\b",
)
_QUOTED_SPAN = re.compile(r"[\"„“”«»](.{3,160}?)[\"“”«»]")
_REPORTED = re.compile(
    r"\b(?:bekommen|erhalten|received|got|re[çc]u|recibido|ricevuto|ontvangen|says|said|"
    r"stating|steht|stand|hei[ßs]t|hie[ßs]|lautet|titled|subject|betreff|objet|asunto|"
    r"oggetto|onderwerp)\b[^\"„“”«»]{0,30}$", re.I)


def _quoted_mention(s: str, m: re.Match[str]) -> bool:
    """The phrase inside quotation marks that a report of a message opens: "I got a mail
    saying 'You have been unsubscribed'", "Betreff „Abmeldung bestätigt“"."""
    for q in _QUOTED_SPAN.finditer(s):
        if q.start(1) <= m.start() and m.end() <= q.end(1) and _REPORTED.search(s[:q.start()]):
            return True
    return False


# Someone else's doing, reported: "my brother sent an unsubscribe request as a prank",
# "家族が勝手に「配信停止」を押してしまった".
_OTHERS_DID = _rx(
    r"\bmy (?:brother|sister|son|daughter|kids?|child|family|husband|wife|partner|flatmate|"
    r"roommate)\b.{0,40}\b(?:sent|clicked|pressed|hit|tapped|requested|unsubscribed)\b",
    r"\b(?:ma m[èe]re|mon p[èe]re|ma fille|mon fils|mon mari|ma femme|ma s[œo]e?ur|mon fr[èe]re|"
    r"mi madre|mi padre|mi hij[oa]|mi marido|mi mujer|mia madre|mio padre|mia figlia|mio figlio|"
    r"mio marito|mia moglie|my mother|my father|my mum|my mom|my dad)\b.{0,30}"
    r"\b(?:s'est (?:d[ée]sabonn|d[ée]sinscri)|se (?:dio|ha dado) de baja|si [èe] (?:disiscritt|"
    r"cancellat)|unsubscribed|(?:hat|haben) sich\b.{0,20}\babgemeldet)",
    r"\b(?:man[žz]el(?:ka)?|syn|dcera|m[ůu]j mu[žz]|moje [žz]ena|m[óo]j m[ąa][żz]|moja [żz]ona|"
    r"m[ąa][żz]|[żz]ona|c[óo]rka)\b.{0,30}\b(?:psal|napsal|poslal|odhl[áa]sil|napisa[łl]|wys[łl]a[łl]|"
    r"wypisa[łl])\w*",
    r"\b(?:mein(?:e)?) (?:bruder|schwester|sohn|tochter|kinder?|mann|frau|partner(?:in)?)\b"
    r".{0,40}\b(?:hat|haben)\b.{0,40}\b(?:geklickt|gedr[üu]ckt|geschickt|abgemeldet)\b",
    r"(?:家族|弟|妹|兄|姉|息子|娘|子供|夫|妻)(?:が|は).{0,40}(?:押して|押し|クリック|送って|送信|解除)",
    r"(?:동생|형|누나|언니|오빠|아들|딸|가족|아이|남편|아내)(?:이|가|는).{0,40}(?:보냈|눌렀|클릭|신청)",
    r"(?:弟弟|妹妹|哥哥|姐姐|家人|儿子|兒子|女儿|女兒|孩子|小孩|老公|老婆).{0,20}"
    r"(?:点了|點了|按了|发了|發了|退订了|退訂了)",
)
_PLEASE = re.compile(r"\b(?:" + _PLEASE_WORDS + r")\b", re.I)
# The sender naming herself: "hier ist die Frau Köhler", "this is Mrs Smith"
_SELF_INTRO = re.compile(r"\b(?:hier (?:ist|spricht)|ich bin|mein name ist|this is|my name is|"
                         r"ici|je suis|c'est)\s+(?:die |der )?(?:frau|herr|mrs?\.?|ms\.?|"
                         r"madame|monsieur)\s+\w+", re.I)
_MY = re.compile(r"\b(?:me|my|mine|mich|mir|meine[nmrs]?|moi|mon|ma|mes|mij|mijn|mi|mis|mio|mia|"
                 r"miei|mie)\b", re.I)
# Advice reported ("my son says I should unsubscribe"), before the phrase it is about.
_ADVISED = _rx(
    r"\b(?:my|our) (?:\w+ ){1,2}(?:says|said|thinks|thought|tells me|told me|keeps telling me|"
    r"wants me|suggested|advised)(?: me)?(?: that)?(?: i)? (?:should|ought to|to|must|need to)"
    r"\b(?! (?:ask|tell|write|let you know|e-?mail you|contact you)\b)",
    r"\b(?:mein|meine|unser|unsere) \w+ (?:meint|sagt|findet|r[äa]t|riet|will|wollte|"
    r"hat gesagt)\b.{0,20}\bich (?:soll|sollte|m[üu]sse|solle|m[üu]sste)\b",
    r"\b(?:mio|mia) (?:\w+ )?(?:dice|diceva|ha detto|mi ha detto|mi dice|pensa|vuole|"
    r"mi consiglia|mi ha consigliato)\b.{0,15}\b(?:che dovrei|di)\b",
    r"\b(?:mon|ma) \w+ (?:m'a dit|me dit|pense|trouve|veut|dit|me conseille)\b.{0,10}"
    r"\b(?:de|que je devrais|que je dois)\b",
    r"\bmi \w+ (?:me dijo|me dice|dice|cree|quiere|me aconsej[óo])\b.{0,10}"
    r"\bque (?:deber[íi]a|me)\b",
    r"\bmijn \w+ (?:zegt|zei|vindt|vond|wil)\b.{0,10}\b(?:dat ik|ik moet|ik zou)\b",
)


# "I unsubscribed my old address": an unsubscription of another address than this one.
_OTHER_ADDRESS = re.compile(
    r"\b(?:my|the|our) (?:old|other|previous|former|work|private) (?:e-?mail )?address\b|"
    r"\bmeine (?:alte|andere|fr[üu]here|vorherige|private|dienstliche) (?:e-?mail-?)?adresse\b|"
    r"\b(?:mon|ma) (?:ancienne|autre) adresse\b|\bmijn (?:oude|andere) (?:e-?mail)?adres\b",
    re.I)


# "… the catalogue. And the e-mails too.": the mail added to a request about another thing.
_MAIL_TOO = re.compile(
    r"^(?:and|et|und|e|y|en|i|oraz|a|plus)\s+(?:also\s+|auch\s+|aussi\s+|anche\s+|tambi[ée]n\s+|"
    r"ook\s+|te[żz]\s+)?(?:the\s+|les\s+|vos\s+|die\s+|den\s+|le\s+|i\s+|los\s+|las\s+|de\s+|"
    r"your\s+|ihre\s+|eure\s+|deine\s+)?(?:e-?mails?|mails|courriels|newsletters?|correos|"
    r"nieuwsbrie\w*|mailings?|maile)\b(?:[\s,]+(?:too|as well|also|aussi|[ée]galement|auch|anche|"
    r"tambi[ée]n|ook|te[żz]|bitte|please|svp|por favor|per favore|gleich mit|dazu))*\s*"
    r"(?:[,;:!.?]|$)", re.I)
_STOP_VERB = re.compile(
    r"\b(?:stop\w*|cancel\w*|remove|arr[êe]t\w*|annul\w*|stopp\w*|einstell\w*|"
    r"abbestell\w*|k[üu]ndig\w*|basta|smett\w*|interromp\w*|disdi\w*|parar|paren|dejen de|"
    r"deja de|ophouden|opzeggen|zrezygn\w*)\b", re.I)


def _negated_stop(s: str) -> bool:
    m = _STOP_VERB.search(s)
    return bool(m and _NEGATION_BEFORE.search(s[:m.start()]))


def _exclaimed(sent: str, after: str) -> bool:
    """"Stop! How did you know?": the word as an exclamation before a question that is not
    about our mail (no mail, no sending named)."""
    return (sent.strip().lower() in ("stop!", "stop!!", "stopp!", "arrête !", "arrête!")
            and after.rstrip().endswith("?") and not _names_mail(after)
            and not re.search(r"\b(?:send|sending|sent|keep|spam|list|these|them)\b", after,
                              re.I))


def detect(body: str, subject: str = "", campaign_subjects: tuple[str, ...] = ()) -> Intent:
    """Unsubscribe intent of a reply. `body`: the sender's own words; `subject`: the
    reply's subject (used only when it is not just our campaign's subject)."""
    evidence: list[str] = []
    best, best_rule, review = 0.0, "", False
    best_sent = ""
    negative = False
    past_self = False  # an earlier (or this) sentence says the sender unsubscribed
    other_channel = False  # a sentence objects to another channel than mail
    sentences = _sentences(body)
    for i, sent in enumerate(sentences):
        conf, rule, rev = _score(sent)
        after = sentences[i + 1] if i + 1 < len(sentences) else ""
        if rule == "keyword-only sentence" and (_about_a_thing(after) or _exclaimed(sent, after)):
            # The bare word may be about the thing the next sentence names; a human decides.
            conf, rule, rev = 0.5, "keyword-only sentence before one about a thing", True
        past_self = past_self or bool(_PAST_SELF.search(sent) and not _MISTAKE.search(sent)
                                      and not _OTHER_ADDRESS.search(sent))
        if (past_self and conf < 0.8 and (conf >= 0.1 or not rule) and _STILL.search(sent)
                and not _KEEP.search(sent) and not any(_RESUB.search(x) for x in sentences)):
            # "I unsubscribed in March. Why do these still come?": the objection said
            # again. Not over a sentence that cancels one ("… but don't stop them"), nor
            # when a sentence asks to be put back ("… trotzdem gekommen … Können Sie mich
            # wieder eintragen?": still receiving, and glad of it).
            conf, rule, rev = 0.95, "unsubscribed before and still receiving", False
        if conf < 0.8 and i > 0 and _MAIL_TOO.match(sent) and _STOP_VERB.search(
                sentences[i - 1]) and not _negated_stop(sentences[i - 1]):
            # "Pourriez-vous arrêter l'envoi du catalogue papier ? Et les e-mails aussi."
            conf, rule, rev = 0.9, "the mail too, after a request to stop something", False
        if not rule:
            continue
        other_channel = other_channel or rule.startswith("another channel")
        evidence.append(f"body: {rule} | {sent[:160]}")
        review = review or rev
        if conf < 0.1:
            negative = True
        if conf > best:
            best, best_rule, best_sent = conf, rule, sent
    if negative:
        # A negation read across a joined line ("I don't know why⏎remove me"): if a line
        # on its own objects, the two readings conflict and a human decides (below).
        for line in _wrapped_lines(body):
            conf, rule, _ = _score(line)
            if conf >= 0.8 and conf > best:
                evidence.append(f"body (line alone): {rule} | {line[:160]}")
                best, best_rule, best_sent = conf, rule, line
    if (best < 0.8 and best_rule.startswith("question about unsubscribing")
            and _HOW.search(best_sent) and any(_LINK_FAILED.search(x) for x in sentences)):
        # "How do I unsubscribe? The link only shows 'token invalid'": asked after trying,
        # and failing, to unsubscribe: the wish is plain. Honoured; a human may answer how.
        best, review = 0.9, True
        best_rule = ("asked how to unsubscribe after the link failed: "
                     + best_rule.removeprefix("question about unsubscribing: "))
        evidence.append(f"body: {best_rule}")
    subj = _SUBJECT_PREFIX.sub("", (subject or "")[:SUBJECT_MAX]).strip()
    if subj and subj.lower() not in {c.lower() for c in campaign_subjects}:
        # The whole subject, and what follows its last separator: "Re: Our June news /
        # no more mails please" is our subject with the sender's words appended.
        tail = _SUBJECT_TAIL.split(subj)[-1].strip()
        # ... and what comes before the first exclamation: "ABMELDEN!!! Dein März bei …"
        head = re.split(r"(?<=[!?])\s+", subj, maxsplit=1)[0].strip()
        # ... and what stands before a reply prefix: "DESCADASTRAR  Re: Liquida de outono"
        pre = re.split(r"\s+(?:re|aw|fwd?|wg|sv|tr|rif|odp|antw)\s*:", subj, maxsplit=1,
                       flags=re.I)[0].strip()
        for part in dict.fromkeys(p for p in (subj, tail, head, pre) if p):
            low = part.lower().strip(" .!–-")
            # a subject of any length when it is all the sender wrote ("AW: bitte diese
            # emails nicht mehr an mich senden habe keinen computer mehr …" over an empty body)
            short = len(low.split()) <= 6 or all(_DEVICE_LINE.match(x) for x in sentences)
            if not (_KEYWORD_ONLY.match(low) or (short and _STRONG.search(part))):
                continue
            sconf, srule, _ = _score(part)
            if sconf >= 0.6 and other_channel and not _MAIL_ITSELF.search(part):
                # "Bitte keine Werbung mehr" over "keine Kataloge mehr per Post, per E-Mail
                # ist in Ordnung": the body says which advertising; a human passes it on
                evidence.append(f"subject: {srule or 'keyword'}, read with the body's other "
                                f"channel | {part[:80]}")
                review = True
                continue
            if sconf >= 0.6:
                evidence.append(f"subject: {srule or 'keyword'} | {part[:80]}")
                if sconf > best:
                    best, best_rule, best_sent = sconf, f"subject {srule}", ""
    if not _read_whole(body):
        # The middle of a very long reply is not read: a human reads the whole of it.
        review = True
        evidence.insert(0, f"long reply: characters {HEAD}..{len(body) - TAIL} of "
                           f"{len(body)} not read; flagged for review")
    if negative and best >= 0.6:
        # Both an objection and a cancelling sentence: a human decides.
        best, review = 0.5, True
        evidence.append("conflicting sentences: flagged for review")
    return Intent(round(best, 3), review, tuple(evidence[:20]), best_rule, best_sent)


# A body that is only the phone's own line: the subject is all the sender wrote.
_DEVICE_LINE = re.compile(
    r"^\s*(?:sent from my \S+|gesendet von meinem \S+|von meinem \S+ gesendet|enviado desde mi "
    r"\S+|envoy[ée] de mon \S+|inviato da \S+|verzonden (?:vanaf|met) (?:mijn )?\S+|get outlook "
    r"for \S+|wys[łl]ane z \S+|iPhone'?umdan g[öo]nderildi)[\w .'-]{0,40}$", re.I)


# A re-permission mail ("Möchten Sie die Weinpost weiterhin bekommen? Antworten Sie
# einfach auf diese E-Mail") answered with a bare "Nein, danke": the no is to the mail.
_BARE_NO = re.compile(
    r"^\W*(?:no|nope|nah|nein|nö|nee|non|ne|nie|nej|n[ãa]o|ei)\b(?:[\s,.!]+(?:danke|thanks|"
    r"thank you|thx|merci|grazie|gracias|dank je|bedankt|tack|tak|dzi[ęe]kuj[ęe]|"
    r"obrigad[oa]|kiitos|d[ěe]kuji))?[\s.!]*$", re.I)
_KEEP_ASKED = _rx(
    r"\b(?:m[öo]chten|wollen|w[üu]nschen|m[öo]chtest|willst|m[öo]chtet|wollt) (?:sie|du|ihr)"
    r"\b.{0,60}\b(?:weiterhin|auch (?:k[üu]nftig|in zukunft)|weiter)\b",
    r"\b(?:sollen|d[üu]rfen) wir (?:ihnen|dir|euch)\b.{0,40}\b(?:weiterhin|weiter|"
    r"auch k[üu]nftig)\b",
    r"\b(?:do|would) you (?:still )?(?:want|like|wish) to (?:keep|continue|stay|still)\b",
    r"\b(?:do|would) you still (?:want|like|wish)\b", r"\bstill want to hear from us\b",
    r"^\s*still (?:want|like|wish|keen)\b",
    r"\b(?:souhaitez|voulez|d[ée]sirez)[- ]vous (?:continuer [àa]|toujours|encore)\b",
    r"\b(?:desea|deseas|quiere|quieres) (?:seguir|continuar) recibiendo\b",
    r"\b(?:desidera|desideri|vuole|vuoi) continuare a ricevere\b",
    r"\b(?:wil|wilt) (?:je|u)\b.{0,40}\b(?:blijven ontvangen|nog (?:langer )?ontvangen)\b",
    r"\bczy (?:chcesz|chce pan|chce pani|chc[ąa] pa[ńn]stwo) (?:nadal|dalej)\b",
    r"\b(?:vill|vil) (?:du|ni|De)\b.{0,30}\b(?:forts[äa]tt(?:a|e)|fortfarande|stadig)\b",
)
# ... and what it asks to go on is our mail ("Möchten Sie weiter sparen?" is no such question)
_MAIL_GOES_ON = re.compile(
    r"\b(?:erhalten|bekommen|beziehen|zugeschickt|zusenden|h[öo]ren|lesen|receiv\w*|getting|"
    r"get|hear(?:ing)?|recevoir|recibiendo|ricevere|ontvangen|otrzymywa\w*|f[åa]|motta|"
    r"newsletters?|nieuwsbrie\w*|e-?mails?|mails?|\w*post|\w*brief\w*|nachrichten|infos?|"
    r"informationen|lettres?|courriels?|correos?|bolet[íi]n\w*|nyhetsbrev\w*|wiadomo\w*|"
    r"list[ae]?|liste|subscribed|schreiben|mailen|senden|schicken|news)\b", re.I)
# A decline said in words, not a bare no ("Nee, liever niet meer", "Das können Sie sich
# sparen", "Let's call it a day"): to our question whether to go on, the same answer.
_DECLINE = _rx(
    r"^\W*(?:no|nope|nein|nee|non|nie|nej)\b[\s,.!]+(?:liever niet|lieber nicht|rather not|"
    r"not any ?more|nicht mehr|no more|plus maintenant|pas vraiment|ya no|non pi[uù])",
    r"\bk[öo]nnen sie sich (?:\w+ ){0,2}sparen\b", r"\bhat sich erledigt\b",
    r"\bcall it a day\b", r"\bi'?ll pass\b", r"\b(?:no|nicht mehr) (?:longer )?(?:needed|"
    r"n[öo]tig|notwendig)\b", r"\bno longer (?:need|want|relevant|of use)\b",
    r"\bplus besoin\b", r"\bya no (?:lo |la )?necesito\b", r"\bnon mi serve pi[uù]\b",
    r"\bniet meer nodig\b", r"\bliever niet(?: meer)?\b", r"\blieber nicht(?: mehr)?\b",
    r"\bbrauche(?:n)? (?:ich|wir) (?:ihn |sie |das )?nicht mehr\b",
)
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_BUT = re.compile(r"\b(?:aber|but|mais|pero|ma|maar|jedoch|however|doch)\b", re.I)
# Our own unsubscribe confirmation, quoted: "You have been unsubscribed", "Sie wurden vom
# Newsletter abgemeldet", "Ihre Adresse wurde aus unserem Verteiler entfernt".
_CONFIRMED_GONE = _rx(
    r"\byou(?:'ve| have) been (?:successfully )?(?:unsubscribed|removed)\b",
    r"\b(?:sie wurden|du wurdest|ihre adresse wurde|deine adresse wurde)\b.{0,40}"
    r"\b(?:abgemeldet|entfernt|ausgetragen|gel[öo]scht)\b",
    r"\bvous (?:avez|êtes) (?:bien )?(?:été )?d[ée]sinscrit", r"\bse ha dado de baja\b",
    r"\b(?:sei stato|è stato) (?:cancellat|disiscritt|rimoss)", r"\bu bent (?:uitgeschreven|"
    r"afgemeld)\b", r"\bjeste[śs] wypisan",
)


_AFFIRM = re.compile(r"^\W*(?:yes|yep|yeah|ja|jawohl|oui|s[íi]|exactly|exakt|genau|precisely|"
                     r"this|that one|das|dies|please do|bitte|gerne?|graag|d[ìi]o)\b", re.I)
_NOT_IN_AFFIRM = re.compile(r"\b(?:not|no|nicht|nein|kein\w*|non|pas|niet|nee|nie|nunca|"
                            r"jamais|never|nie)\b", re.I)
_UNSUB_LINE = re.compile(r"unsubscri|abmelde|abmeldu|abbestell|austragen|d[ée]sabonn|"
                         r"d[ée]sinscri|\bbaja\b|disiscri|afmeld|uitschrijv|wypisz|opt[- ]?out",
                         re.I)


def affirms_quoted_unsubscribe(own: str, full: str) -> Intent | None:
    """"Yes, this. Please do it for me, the link gives an error" typed between the quoted
    lines, right below the newsletter's quoted "Unsubscribe: https://…" line: the yes is
    to that line. Honoured, and a human reads it."""
    for para in re.split(r"\n[ \t]*\n", own.strip())[:20]:
        para = para.strip()
        if not para or len(para) > 400 or not _AFFIRM.match(para):
            continue
        first = para.split("\n", 1)[0].strip()
        at = full.find(first)
        if at <= 0:
            continue
        above = [ln.strip() for ln in full[:at].splitlines() if ln.strip()]
        if not above or not above[-1].startswith(">") or not _UNSUB_LINE.search(above[-1]):
            continue
        if _KEEP.search(para) or _NOT_IN_AFFIRM.search(first) or first.rstrip().endswith("?"):
            continue
        rule = "a yes typed below our quoted unsubscribe line"
        return Intent(0.85, True, (f"body: {rule} | {para[:120]}",), rule, first)
    return None


def still_after_confirmation(own: str, subject: str, quoted: str) -> Intent | None:
    """"Still getting them!" under our own unsubscribe confirmation: the objection, made
    again (it stands since the confirmation)."""
    if not _STILL.search(own[:600]) or _KEEP.search(own[:600]):
        return None
    if not (_CONFIRMED_GONE.search(_SUBJECT_PREFIX.sub("", subject[:SUBJECT_MAX]))
            or _CONFIRMED_GONE.search(quoted[:6_000])):
        return None
    said = next((x for x in _sentences(own) if _STILL.search(x)), own[:120])
    rule = "still receiving, under our unsubscribe confirmation"
    return Intent(0.95, False, (f"body: {rule} | {said[:160]}",), rule, said)


def declines_continuing(own: str, subject: str, quoted: str) -> Intent | None:
    """A bare "no" (`own`, the sender's whole text) to our question whether they want
    our mail to go on, asked in the subject or the quoted text: an objection. Asked
    beside another question in the quote, which one the no answers is for a human."""
    lines = [ln.strip() for ln in own.strip().splitlines() if ln.strip()]
    bare = bool(lines) and bool(_BARE_NO.match(lines[0])) and sum(map(len, lines[1:])) <= 40
    worded = (not bare and 0 < len(own.strip()) <= 400 and "?" not in own
              and not _KEEP.search(own) and not _BUT.search(own))
    decline = _DECLINE.search(own) if worded else None
    if not bare and decline is None:
        return None  # a no said with more, or no decline at all
    subj = _SUBJECT_PREFIX.sub("", subject[:SUBJECT_MAX])
    asked = next((q for q in re.split(r"(?<=\?)", subj) if q.rstrip().endswith("?")
                  and _KEEP_ASKED.search(q) and _MAIL_GOES_ON.search(q)), None)
    others = 0
    if asked is None:
        # the quote's lines without their "> " marks, a hard-wrapped question joined again
        flat = re.sub(r"(?<![.!?:\n])\n(?![\n])", " ",
                      re.sub(r"(?m)^[ \t]*(?:>[ \t]?)+", "", quoted[:20_000]))
        flat = _URL.sub(" ", flat)  # a link's "?id=…" asks nothing
        questions = [re.split(r"(?<=[.!])\s+(?=[A-ZÄÖÜÀ-Þ])", q)[-1].strip()
                     for q in re.findall(r"[^!?\n]{3,300}\?", flat)]
        keep = [q for q in questions if _KEEP_ASKED.search(q) and _MAIL_GOES_ON.search(q)]
        if not keep:
            return None
        asked, others = keep[0], len(questions) - len(keep)
    rule = f"a bare no to our question whether to go on sending: {asked.strip()[:100]}"
    if others >= 1:
        return Intent(0.5, True, (f"body: {rule}; other questions in the quote: flagged",),
                      rule, lines[0])
    if decline is not None:
        # said in words, not a bare no: honoured, and a human reads the words
        return Intent(0.85, True, (f"body: {rule}; declined in words: {decline.group(0)[:40]}",),
                      rule, decline.group(0))
    return Intent(0.9, False, (f"body: {rule} | {lines[0][:60]}",), rule, lines[0])
