import pytest

from polymix.core.errors import UserFacingError
from polymix.transforms.filters.pii import EMAIL, IP, PII, is_ip, phone_spans
from tests.transforms.filters.helpers import DEFAULTS, real_corpus, real_sample, tag

RULES = PII(DEFAULTS.pii)

# Every IP and phone number in the real corpus (benchmarks/real_corpus.py), found by reading the
# candidates by hand: servers in ping output and /etc/hosts examples, example addresses in
# Python's docs, the re module's phone book, a number in a fortune.
GENUINE_IPS = {
    "130.89.148.77", "149.20.4.15", "2603:400a:ffff:bb8::801f:3e", "146.82.138.7",
    "209.237.226.90", "216.239.38.15", "123.231.231.123", "123.234.123.89", "100.50.200.5",
    "123.45.67.89", "192.169.224.239", "193.168.1.2", "93.184.216.34",
    "2001:888:118e:18e2:21e:8fff:fe36:b64a", "2606:2800:220:1:248:1893:25c8:1946",
}  # fmt: skip
GENUINE_PHONES = {"925.541.7625", "548.326.4584", "1-415-642-4948"}
# What a pattern-only redactor took for addresses or phones in the same corpus.
LOOKALIKES = [
    ("6.2.4.1. Die Konfiguration von exim4", "section number"),
    ("12.6.2.1. Kompilieren und Installieren", "section number"),
    ("RFC 3168, Section 6.1.1.1. fallback", "section number"),
    ("(before Linux 2.4.9.2)", "version"),
    ('"[GCC 2.7.2.2]"', "version"),
    ("User-Agent: Thunderbird 1.5.0.9 (X11/20061227)", "version"),
    ("Gecko/20071127 Firefox/2.0.0.11", "version"),
    ("(zlib 1.2.3.4), or", "version"),
    ("Downloading novas-3.1.1.3.tar.gz (136kB)", "file name"),
    ("sortlist 130.155.160.0/255.255.240.0 130.155.0.0", "network and netmask"),
    ("ff02::1         ip6-allnodes", "multicast group"),
    ('Multicast-Adresse "224.0.0.251"', "multicast group"),
    ("label  2002::/16     2", "prefix"),
    ("add::", "word"),
    ("$ date --date='@2147483647'", "number"),
    ("seed=3652260728)", "number"),
    ("2014-10-26  01        +03", "date"),
    ("le sue misure: 30-172-60-100, ma", "measurements"),
    ("Boston, MA  02110-1301  USA", "postal code"),
    ("ISBN 0-201-61633-5.", "ISBN"),
    ("'123 456 789.00'", "price"),
    ("from 1999-2004 and 2005 to 2010", "years"),
    ("costs $1,234.56 or 1 234 567,89 EUR", "price"),
    ("255.255.255.0 netmask", "netmask"),
    ("at 12:30:45 on 2024-05-01", "time and date"),
]


def test_emails_ips_and_phones_are_redacted_and_counted():
    text = (
        "Write to jane.doe+news@example.co.uk or call (415) 555-0132 or +44 20 7946 0958. "
        "The server 93.184.216.34 and 2a00:1450:4001:82a::200e answered, not 192.168.0.12."
    )
    tags = tag(RULES, text)
    assert tags.modified == {"email": 1, "ip": 2, "phone": 2}
    assert tags.text == (
        "Write to |||EMAIL_ADDRESS||| or call |||PHONE_NUMBER||| or |||PHONE_NUMBER|||. "
        "The server |||IP_ADDRESS||| and |||IP_ADDRESS||| answered, not 192.168.0.12."
    )
    assert RULES.decide(tags.attributes) == []


@pytest.mark.parametrize(("text", "what"), LOOKALIKES)
def test_lookalikes_are_left_alone(text, what):
    tags = tag(RULES, text)
    assert tags.text is None and tags.modified == {}, what


def test_phones_are_read_in_the_configured_regions():
    german = "Rufen Sie 030 12345678 an."
    assert tag(RULES, german).modified == {}
    in_germany = PII(DEFAULTS.pii.model_copy(update={"phone_regions": ["US", "DE"]}))
    assert tag(in_germany, german).modified == {"phone": 1}
    with pytest.raises(UserFacingError, match="'XX'"):
        PII(DEFAULTS.pii.model_copy(update={"phone_regions": ["XX"]}))


def test_private_ips_only_when_asked():
    everything = PII(DEFAULTS.pii.model_copy(update={"public_ips_only": False}))
    assert tag(everything, "router at 192.168.0.12.").modified == {"ip": 1}
    assert tag(everything, "version 1.2.3.4").modified == {}  # still a version, not an address


def test_each_kind_can_be_turned_off():
    keep_emails = PII(DEFAULTS.pii.model_copy(update={"emails": False}))
    assert tag(keep_emails, "mail me at a@b.org").text is None


def _redacted(docs: list[dict]) -> tuple[set[str], set[str]]:
    ips, phones = set(), set()
    for doc in docs:
        text = EMAIL.sub("", doc["text"])
        for match in IP.finditer(text):
            if is_ip(match.group(), text[max(0, match.start() - 2) : match.start()]):
                ips.add(match.group())
        phones |= {text[a:b] for a, b in phone_spans(text, ["US"])}
    return ips, phones


def _precision(found: set[str], genuine: set[str]) -> float:
    return len(found & genuine) / len(found) if found else 1.0


def test_precision_on_real_text():
    """Every IP and phone redacted in real documents is one; the ones that hold some are in."""
    ids = {"man/en/hosts.5.gz", "man/en/proc.5.gz", "man/en/tcp.7.gz", "man/en/zdump.8.gz"}
    ids |= {"man/en/gai.conf.5.gz", "man/es/date.1.gz", "fortune/en/computers#72"}
    ids |= {"fortune/it/it/luttazzi#60", "html/debian-reference-de/ch06.de.html"}
    docs = [d for d in real_corpus() if d["id"] in ids] + real_sample(per_kind=40, max_chars=20_000)
    ips, phones = _redacted(docs)
    assert _precision(ips, GENUINE_IPS) == 1.0, ips - GENUINE_IPS
    assert _precision(phones, GENUINE_PHONES) == 1.0, phones - GENUINE_PHONES
    assert {"146.82.138.7", "209.237.226.90"} <= ips and "1-415-642-4948" in phones


@pytest.mark.slow
def test_precision_and_recall_on_the_whole_real_corpus():
    ips, phones = _redacted(list(real_corpus()))
    assert ips == GENUINE_IPS and phones == GENUINE_PHONES
