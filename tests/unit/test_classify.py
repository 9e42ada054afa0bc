"""Classification (SPEC §3): the control header wins, an unknown class is marketing, then
the configured rules in order (envelope-sender glob, header presence or regex), then the
default; control header values are reduced to safe tokens."""

from __future__ import annotations

import pytest

from consentry.classify import CONTROL_HEADERS, MAX_TOKEN, classify
from consentry.config import ClassificationConfig, ClassificationRule
from consentry.rawmsg import parse

RULES = ClassificationConfig(default="marketing", rules=[
    ClassificationRule("transactional", mail_from="*@orders.example.com"),
    ClassificationRule("service", header="X-Mailer", matches=r"^ticketsystem\b"),
    ClassificationRule("marketing", header="List-Id"),
    ClassificationRule("transactional", header="Precedence", matches=r"^(bulk|list)$"),
])


def msg(*headers: str, body: str = "hi\r\n") -> bytes:
    return ("".join(h + "\r\n" for h in ("Subject: s", *headers)) + "\r\n" + body).encode()


def cls(data: bytes, mail_from: str = "news@shop.example",
        cfg: ClassificationConfig = RULES) -> tuple[str, str]:
    f = classify(parse(data), mail_from, cfg)
    return f.message_class, f.classified_by


@pytest.mark.parametrize("value,expected", [
    ("marketing", "marketing"), ("transactional", "transactional"),
    ("doi-confirmation", "doi-confirmation"), ("service", "service"),
    ("  Transactional ", "transactional"), ("SERVICE", "service"),
])
def test_header_class_wins_over_rules(value: str, expected: str) -> None:
    # the envelope sender matches rule[0] (transactional) and List-Id matches rule[2]
    data = msg(f"X-Consent-Class: {value}", "List-Id: <news.shop.example>")
    assert cls(data, "x@orders.example.com") == (expected, "header")


@pytest.mark.parametrize("value", ["newsletter", "transactional (order)", "", "trans",
                                   "marketing;transactional"])
def test_unknown_header_class_is_marketing(value: str) -> None:
    c, by = cls(msg(f"X-Consent-Class: {value}"), "x@orders.example.com")
    assert c == "marketing"
    assert by.startswith("header-unknown")


def test_conflicting_class_headers_are_marketing() -> None:
    data = msg("X-Consent-Class: transactional", "X-Consent-Class: marketing")
    assert cls(data)[0] == "marketing"
    data = msg("X-Consent-Class: marketing", "X-Consent-Class: transactional")
    assert cls(data)[0] == "marketing"


def test_repeated_identical_class_headers_are_that_class() -> None:
    data = msg("X-Consent-Class: service", "x-consent-class: Service")
    assert cls(data) == ("service", "header")


def test_folded_class_header_is_unfolded() -> None:
    assert cls(msg("X-Consent-Class:\r\n transactional"))[0] == "transactional"


def test_rule_by_mail_from_glob_case_insensitive() -> None:
    assert cls(msg(), "Billing@ORDERS.example.com") == ("transactional", "rule[0]")
    assert cls(msg(), "billing@orders.example.com.evil") == ("marketing", "default")


def test_rule_by_header_regex_and_presence_in_order() -> None:
    assert cls(msg("X-Mailer: TicketSystem 4.2")) == ("service", "rule[1]")
    assert cls(msg("X-Mailer: Mailchimp")) == ("marketing", "default")
    # List-Id (rule[2]) comes before Precedence (rule[3]): first match wins
    assert cls(msg("Precedence: bulk", "List-Id: <l.example>")) == ("marketing", "rule[2]")
    assert cls(msg("Precedence: bulk")) == ("transactional", "rule[3]")
    assert cls(msg("Precedence: junk")) == ("marketing", "default")


def test_rule_with_mail_from_and_header_needs_both() -> None:
    cfg = ClassificationConfig(default="marketing", rules=[
        ClassificationRule("service", mail_from="*@crm.example", header="X-Kind",
                           matches="^notice$")])
    assert cls(msg("X-Kind: notice"), "a@crm.example", cfg) == ("service", "rule[0]")
    assert cls(msg("X-Kind: notice"), "a@other.example", cfg)[0] == "marketing"
    assert cls(msg("X-Kind: promo"), "a@crm.example", cfg)[0] == "marketing"


def test_configurable_default() -> None:
    cfg = ClassificationConfig(default="transactional", rules=[])
    assert cls(msg(), cfg=cfg) == ("transactional", "default")


def test_default_default_is_marketing() -> None:
    assert ClassificationConfig().default == "marketing"
    assert cls(msg(), cfg=ClassificationConfig()) == ("marketing", "default")


def test_null_sender_matches_no_sender_glob_but_star() -> None:
    cfg = ClassificationConfig(rules=[ClassificationRule("service", mail_from="*@x.example")])
    assert cls(msg(), "", cfg) == ("marketing", "default")


def test_control_header_values_sanitised() -> None:
    data = msg("X-Consent-Category: ink \x1b[2J<script>",
               "X-Consent-List: news letter*?[x]",
               f"X-Campaign-Id: {'c' * 500}",
               "X-Consent-Class: marketing")
    f = classify(parse(data), "a@b.example", RULES)
    assert f.category == "ink2Jscript"
    assert f.list_name == "newsletterx"
    assert f.campaign == "c" * MAX_TOKEN
    for v in (f.category, f.list_name, f.campaign):
        assert v is not None
        assert all(ch.isalnum() or ch in "._:@+-/" for ch in v)


def test_control_header_with_nothing_safe_is_none() -> None:
    f = classify(parse(msg("X-Consent-List: <<>>", "X-Campaign-Id:  ")), "a@b", RULES)
    assert f.list_name is None and f.campaign is None


def test_message_id_taken_and_capped() -> None:
    f = classify(parse(msg("Message-ID: <" + "m" * 400 + "@x>")), "a@b", RULES)
    assert f.message_id is not None and len(f.message_id) == 256


def test_control_headers_set_is_what_the_relay_strips() -> None:
    assert {"x-consent-class", "x-consent-category", "x-consent-list",
            "x-campaign-id"} <= CONTROL_HEADERS
