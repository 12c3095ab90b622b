"""The outbound policy: which addresses a household's URL may lead the deployment to, checked
for every address a name resolves to, and the one redaction of such URLs."""

from __future__ import annotations

import pytest

from facewatch.config import Settings
from facewatch.outbound import (
    DOCKER_HOST_NAMES,
    MQTT_SCHEMES,
    OutboundPolicy,
    OutboundRefused,
    Unresolvable,
    check_saved_url,
    container_hosts,
    policy_from_settings,
    redact_url,
    resolve_target,
)

CLOUD = OutboundPolicy()
LAN = OutboundPolicy(allow_private=True)


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise Unresolvable(f"{host} does not resolve")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8123/api/webhook/x",
        "http://127.1/",
        "http://[::1]:8080/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://0.0.0.0:80/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:169.254.169.254]/",
        "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[::a9fe:a9fe]/",  # IPv4-compatible 169.254.169.254
        "http://[::ffff:0:7f00:1]/",  # SIIT of 127.0.0.1
        "http://[::ffff:0:a9fe:a9fe]/",  # SIIT of 169.254.169.254
        "http://[64:ff9b:1::a9fe:a9fe]/",  # local-use NAT64
        "http://[64:ff9b:1:ffff::808:808]/",  # local-use NAT64, whatever it carries
        "http://[fe80::1]/",
        "http://192.0.2.10/",  # documentation
        "http://240.0.0.1/",  # reserved
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://localhost:8080/",
        "http://LOCALHOST./",
        "http://x.localhost/",
    ],
)
def test_always_refused_even_where_private_addresses_are_allowed(url):
    with pytest.raises(OutboundRefused):
        resolve_target(url, LAN)
    with pytest.raises(OutboundRefused):
        check_saved_url(url, LAN)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.20:8123/",
        "http://100.64.0.1/",
        "http://[fd12::1]/",
    ],
)
def test_private_ranges_only_where_the_deployment_allows_them(url):
    with pytest.raises(OutboundRefused, match="FACEWATCH_OUTBOUND_ALLOW_PRIVATE"):
        resolve_target(url, CLOUD)
    assert resolve_target(url, LAN).addresses


def test_loopback_only_with_the_test_setting_and_metadata_never():
    policy = OutboundPolicy(allow_loopback=True)
    assert resolve_target("http://127.0.0.1:9/", policy).addresses == ("127.0.0.1",)
    with pytest.raises(OutboundRefused):
        resolve_target("http://169.254.169.254/", OutboundPolicy(allow_loopback=True, allow_private=True))


def test_every_address_of_a_name_is_checked_and_the_checked_ones_are_returned():
    policy = OutboundPolicy(
        resolve=resolver({"ha.example": ["93.184.216.34", "127.0.0.1"], "ok.example": ["93.184.216.34"]})
    )
    with pytest.raises(OutboundRefused, match=r"ha\.example resolves to 127\.0\.0\.1"):
        resolve_target("https://ha.example/api/webhook/secret", policy)
    target = resolve_target("https://ok.example/hook", policy)
    assert (target.host, target.port, target.addresses) == ("ok.example", 443, ("93.184.216.34",))


def test_a_name_that_rebinds_after_it_was_saved_is_refused_at_connect_time():
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    policy = OutboundPolicy(resolve=lambda host, port: next(answers))
    assert check_saved_url("http://rebind.example/hook", policy)
    with pytest.raises(OutboundRefused, match="loopback"):
        resolve_target("http://rebind.example/hook", policy)


def test_a_name_that_does_not_resolve_is_kept_when_saved_and_refused_at_connect_time():
    policy = OutboundPolicy(resolve=resolver({}))
    assert check_saved_url("https://homeassistant.local:8123/api/webhook/x", policy)
    with pytest.raises(Unresolvable):
        resolve_target("https://homeassistant.local:8123/api/webhook/x", policy)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/",
        "file:///etc/passwd",
        "http:///nohost",
        "http://93.184.216.34:99999/",
        "http://a b/",
        "http://ok.example/\r\nX: y",
    ],
)
def test_what_is_not_a_web_url_is_refused(url):
    with pytest.raises(OutboundRefused):
        check_saved_url(url, OutboundPolicy(resolve=resolver({})))


def test_mqtt_urls_have_their_own_schemes_and_ports():
    target = resolve_target("mqtts://u:p@93.184.216.34", CLOUD, MQTT_SCHEMES)
    assert (target.scheme, target.port) == ("mqtts", 8883)
    with pytest.raises(OutboundRefused):
        resolve_target("mqtt://127.0.0.1:1883", LAN, MQTT_SCHEMES)
    with pytest.raises(OutboundRefused):
        resolve_target("http://93.184.216.34/", CLOUD, MQTT_SCHEMES)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ha.example:8123/api/webhook/SECRET-ID", "https://ha.example:8123/***"),
        ("https://ntfy.sh/SECRET-TOPIC", "https://ntfy.sh/***"),
        ("https://hooks.example/?token=SECRET", "https://hooks.example/***"),
        ("mqtts://user:SECRET@broker.example:8883", "mqtts://***@broker.example:8883/"),
        ("http://[::1]:8080/SECRET", "http://[::1]:8080/***"),
        ("https://hooks.example/", "https://hooks.example/"),
        ("http://[bad/SECRET", "<a malformed URL>"),
    ],
)
def test_a_url_is_shown_without_its_path_query_or_user_info(url, shown):
    assert redact_url(url) == shown
    assert "SECRET" not in redact_url(url)


def test_refusals_never_carry_the_urls_secret():
    for url in ("http://127.0.0.1/api/webhook/SECRET", "ftp://x/SECRET", "http://u:SECRET@10.0.0.1/"):
        with pytest.raises(OutboundRefused) as caught:
            resolve_target(url, CLOUD)
        assert "SECRET" not in str(caught.value)


def test_the_deployment_default_refuses_private_and_loopback(monkeypatch):
    for name in ("FACEWATCH_OUTBOUND_ALLOW_PRIVATE", "FACEWATCH_OUTBOUND_ALLOW_LOOPBACK"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert not settings.outbound_allow_private and not settings.outbound_allow_loopback


@pytest.mark.parametrize(
    ("url", "private"),
    [
        ("http://[::a01:203]/", "10.1.2.3"),  # IPv4-compatible
        ("http://[::ffff:0:a01:203]/", "10.1.2.3"),  # SIIT
    ],
)
def test_ipv6_forms_of_an_ipv4_address_are_checked_as_that_address(url, private):
    with pytest.raises(OutboundRefused, match="FACEWATCH_OUTBOUND_ALLOW_PRIVATE"):
        resolve_target(url, CLOUD)
    assert resolve_target(url, LAN).addresses
    assert resolve_target("http://[::808:808]/", CLOUD).addresses  # a public one passes


# --- the deployment's own services -------------------------------------------------------------

COMPOSE = resolver(
    {
        "minio": ["172.18.0.2"],
        "notify": ["172.18.0.5"],
        "outbox": ["172.18.0.6"],
        "ha.lan": ["192.168.1.20"],
        "alias.example": ["172.18.0.2"],
        "both.example": ["192.168.1.20", "172.18.0.6"],
    }
)


def compose_policy(**changes: object) -> OutboundPolicy:
    fields: dict[str, object] = {
        "allow_private": True,
        "deployment_hosts": frozenset({"minio", "notify", "outbox", "172.17.0.1"}),
        "resolve": COMPOSE,
        **changes,
    }
    return OutboundPolicy(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://notify:8080/",
        "http://MINIO:9000/bucket/key",
        "http://outbox:1025/",
        "http://172.18.0.2:9000/",  # minio by address
        "http://[::ffff:172.18.0.2]:9000/",  # and as IPv6
        "http://alias.example:9000/",  # another name for it
        "http://both.example/",  # one of its addresses is the mail server's
        "http://172.17.0.1:8082/",  # the Docker host's gateway: its published ports
    ],
)
def test_the_deployments_own_services_are_refused_where_private_addresses_are_allowed(url):
    policy = compose_policy()
    with pytest.raises(OutboundRefused, match="this deployment's own services"):
        resolve_target(url, policy)
    with pytest.raises(OutboundRefused):
        check_saved_url(url, policy)


def test_a_households_lan_receiver_is_still_allowed_beside_the_deployments_services():
    assert resolve_target("http://ha.lan:8123/api/webhook/x", compose_policy()).addresses == ("192.168.1.20",)
    assert resolve_target("mqtt://192.168.1.21:1883", compose_policy(), MQTT_SCHEMES).addresses


def test_own_services_are_resolved_at_check_time_with_the_policys_resolver():
    """minio moves to another address (a restarted container): the new one is refused."""
    answers = {"minio": ["172.18.0.2"], "ha.lan": ["172.18.0.9"]}
    policy = compose_policy(deployment_hosts=frozenset({"minio"}), resolve=resolver(answers))
    assert resolve_target("http://ha.lan/", policy)
    answers["minio"] = ["172.18.0.9"]
    with pytest.raises(OutboundRefused, match="own services"):
        resolve_target("http://ha.lan/", policy)


def test_the_deployments_own_hosts_come_from_its_settings(monkeypatch):
    monkeypatch.setattr("facewatch.outbound.CONTAINER_MARKERS", ())
    settings = Settings(
        _env_file=None,
        s3_endpoint_url="http://minio:9000",
        notify_url="http://notify:8080/",
        smtp_host="Outbox.",
        console_url="https://console.example:8443/",
        feedback_url="http://127.0.0.1:8081/",
        mqtt_url="mqtt://broker.lan:1883",
    )
    policy = policy_from_settings(settings)
    # feedback on loopback is the loopback rule's; the operator's broker is for households.
    assert "broker.lan" not in policy.deployment_hosts
    assert policy.deployment_hosts >= {"minio", "notify", "outbox", "console.example"}
    assert "127.0.0.1" not in policy.deployment_hosts


def test_in_a_container_the_host_gateway_is_the_deployments_own(tmp_path):
    routes = tmp_path / "route"
    routes.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n"
        "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\n"
        "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\n"
    )
    marker = tmp_path / ".dockerenv"
    assert container_hosts([marker], routes) == ()  # not in a container: the LAN's router is not ours
    marker.touch()
    assert container_hosts([marker], routes) == (*DOCKER_HOST_NAMES, "172.18.0.1")
