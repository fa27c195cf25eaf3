from polymix.transforms.filters.pii import PII
from tests.transforms.filters.helpers import DEFAULTS, tag

RULES = PII(DEFAULTS.pii)


def test_emails_ips_and_phones_are_redacted_and_counted():
    text = (
        "Write to jane.doe+news@example.co.uk or call (555) 123-4567 or +44 20 7946 0958. "
        "The server 93.184.216.34 and 2a00:1450:4001:82a::200e answered, not 192.168.0.12."
    )
    tags = tag(RULES, text)
    assert tags.modified == {"email": 1, "ip": 2, "phone": 2}
    assert tags.text == (
        "Write to |||EMAIL_ADDRESS||| or call |||PHONE_NUMBER||| or |||PHONE_NUMBER|||. "
        "The server |||IP_ADDRESS||| and |||IP_ADDRESS||| answered, not 192.168.0.12."
    )
    assert RULES.decide(tags.attributes) == []


def test_lookalikes_are_left_alone():
    text = "Version 1.2.3, at 12:30:45 on 2024-05-01, score 999.1.2.3, price 1,234.56."
    tags = tag(RULES, text)
    assert tags.text is None and tags.modified == {}


def test_private_ips_only_when_asked():
    everything = PII(DEFAULTS.pii.model_copy(update={"public_ips_only": False}))
    assert tag(everything, "router at 192.168.0.12.").modified == {"ip": 1}


def test_each_kind_can_be_turned_off():
    keep_emails = PII(DEFAULTS.pii.model_copy(update={"emails": False}))
    assert tag(keep_emails, "mail me at a@b.org").text is None
