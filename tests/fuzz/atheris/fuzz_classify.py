"""atheris: the submission side's content path - raw header reader, message classifier,
and the MIME walker with the tracking stripper - on arbitrary bytes. Only
MalformedMessage from the reader; the walker never raises and returns bytes."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["consentry"]):
    from consentry import rawmsg, tracking
    from consentry.classify import classify
    from consentry.config import MESSAGE_CLASSES, ClassificationConfig
    from consentry.errors import MalformedMessage

from _common import run

CFG = ClassificationConfig()
RULES = tracking.TrackingRules.build(["t.example"], ["url"], [], True)


def target(data: bytes) -> None:
    data = rawmsg.normalize_newlines(data)
    try:
        msg = rawmsg.parse(data)
    except MalformedMessage:
        return
    if classify(msg, "news@shop.example", CFG).message_class not in MESSAGE_CLASSES:
        raise AssertionError("unknown class")
    res = tracking.strip(msg, RULES)
    if not isinstance(res.message.to_bytes(), bytes):
        raise AssertionError("strip lost the message")


if __name__ == "__main__":
    run(target)
