import pytest

from pipelines.clean.pii import is_public_ip, mask_pii


@pytest.mark.parametrize("text,masked,emails", [
    ("mail john.smith@example.com or a@b.co.uk.", "mail <email> or <email>.", 2),
    ("Jane.Doe+tag@sub.example.org, ok", "<email>, ok", 1),
    ("x@y and @home and a@", "x@y and @home and a@", 0),  # no dot in the domain: not an address
    ("b" * 64 + "@example.com", "<email>", 1),
    ("b" * 65 + "@example.com", "b" * 65 + "@example.com", 0),  # local part over 64 characters (RFC 5321)
])
def test_emails(text, masked, emails):
    assert mask_pii(text) == (masked, emails, 0)


@pytest.mark.parametrize("text,masked,ips", [
    ("dns 8.8.8.8 and 1.1.1.1.", "dns <ip> and <ip>.", 2),
    ("private 10.0.0.1 192.168.1.1 172.16.0.5 127.0.0.1 169.254.1.1 192.0.2.7 0.0.0.0",
     "private 10.0.0.1 192.168.1.1 172.16.0.5 127.0.0.1 169.254.1.1 192.0.2.7 0.0.0.0", 0),
    ("version 1.2.3.4.5, a1.2.3.4, 1.2.3.4a, 256.1.1.1, 01.2.3.4",
     "version 1.2.3.4.5, a1.2.3.4, 1.2.3.4a, 256.1.1.1, 01.2.3.4", 0),
    ("host:8.8.4.4/24", "host:<ip>/24", 1),
    ("v6 2001:4860:4860::8888 and 2606:4700:4700::1111.", "v6 <ip> and <ip>.", 2),
    ("local ::1 fe80::1 2001:db8::1 fc00::2 ::", "local ::1 fe80::1 2001:db8::1 fc00::2 ::", 0),
    ("time 12:30:45, mac 00:1a:2b:3c:4d:5e, std::vector", "time 12:30:45, mac 00:1a:2b:3c:4d:5e, std::vector", 0),
    ("mapped ::ffff:8.8.8.8", "mapped ::ffff:<ip>", 1),
])
def test_ip_addresses_only_public_ones(text, masked, ips):
    assert mask_pii(text) == (masked, 0, ips)


def test_is_public_ip():
    assert is_public_ip("8.8.8.8") and is_public_ip("2001:4860:4860::8888")
    assert not is_public_ip("10.1.2.3") and not is_public_ip("300.1.1.1") and not is_public_ip("12:30:45")


def test_long_lines_without_spaces_are_linear():
    junk = "a-" * 500_000 + "@" + "b." * 500_000 + ":" * 1000 + "1." * 500_000
    text, emails, ips = mask_pii(junk)
    assert (emails, ips) == (0, 0) and text == junk
