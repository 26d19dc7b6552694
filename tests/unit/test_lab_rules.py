"""Which iptables rules a lab owns (pic_lab.lab): by its exact comment, never by a prefix."""

from pic_lab.lab import Lab


def lab_named(name: str) -> Lab:
    lab = Lab.__new__(Lab)  # no subnet or bridge needed to tell rules apart
    lab.comment = f"pic-lab:{name}"
    return lab


CADDY = '-A POSTROUTING -s 10.213.58.0/24 ! -o pl-ci-caddy -m comment --comment "pic-lab:ci-caddy" -j MASQUERADE'
CA = '-A FORWARD -i pl-ci-ca -m comment --comment pic-lab:ci-ca -j ACCEPT'


def test_a_lab_does_not_own_the_rules_of_a_lab_whose_name_it_prefixes():
    assert not lab_named("ci-ca")._owns(CADDY)
    assert lab_named("ci-caddy")._owns(CADDY)


def test_a_lab_owns_its_rules_quoted_or_not():
    assert lab_named("ci-ca")._owns(CA)
    assert not lab_named("ci-ca")._owns("-A FORWARD -i pl-ci-ca -j ACCEPT")
