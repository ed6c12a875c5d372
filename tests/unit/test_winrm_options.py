"""WinRM options from inventory variables: Ansible names and defaults, refusals, no secrets in messages."""

from __future__ import annotations

import pytest

from auditor.transports.base import ConnectionRequest
from auditor.transports.winrm_options import WinrmConfigError, winrm_options

SECRET = "S3cret-Value!"


def spec(port: int | None = None, **vars_) -> ConnectionRequest:
    return ConnectionRequest(name="h", host="10.0.0.5", connection="winrm", port=port, user="u", password=SECRET,
                          vars=vars_)


def test_defaults_follow_ansible():
    o = winrm_options(spec())
    assert (o.scheme, o.port, o.path, o.auth) == ("https", 5986, "/wsman", "ntlm")
    assert (o.cert_validation, o.message_encryption) == ("validate", "auto")
    assert (o.operation_timeout, o.read_timeout, o.retries) == (20, 30, 2)
    assert o.endpoint("10.0.0.5") == "https://10.0.0.5:5986/wsman"


def test_port_5985_means_http_and_explicit_scheme_wins():
    assert winrm_options(spec(5985)).scheme == "http"
    assert winrm_options(spec(5985, ansible_winrm_scheme="https")).scheme == "https"
    assert winrm_options(spec(None, ansible_winrm_port=5985)).port == 5985


@pytest.mark.parametrize("value, expected", [("plaintext", "basic"), (["kerberos", "ntlm"], "kerberos"),
                                             ("ssl", "certificate"), ("NTLM", "ntlm")])
def test_transport_names_and_lists(value, expected):
    extra = {"ansible_winrm_cert_pem": "c.pem", "ansible_winrm_cert_key_pem": "k.pem"}
    assert winrm_options(spec(5986, ansible_winrm_transport=value, **extra)).auth == expected


def test_kerberos_options_follow_ansible():
    o = winrm_options(spec(ansible_winrm_transport="kerberos")).kerberos
    assert o is not None and o.managed and o.principal == "u" and o.spn == "HTTP/h"  # ansible_host is an IP
    s = spec(ansible_winrm_transport="kerberos", ansible_winrm_kinit_mode="manual",
             ansible_winrm_kerberos_delegation="yes", ansible_winrm_kerberos_hostname_override="win7.corp.example",
             auditor_krb5_config="/etc/k.conf")
    o = winrm_options(s).kerberos
    assert o is not None and not o.managed and o.password is None and o.delegate
    assert (o.spn, o.krb5_config) == ("HTTP/win7.corp.example", "/etc/k.conf")
    by_ip = ConnectionRequest(name="10.0.0.9", host="10.0.0.9", connection="winrm", user="u@R", password=None,
                           vars={"ansible_winrm_transport": "kerberos"})
    o = winrm_options(by_ip).kerberos
    assert o is not None and o.by_ip and not o.managed  # no password: the user's own ticket cache
    with pytest.raises(WinrmConfigError, match="user@REALM"):
        winrm_options(ConnectionRequest(name="h", host="h", connection="winrm", user="CORP\\u", password="p",
                                     vars={"ansible_winrm_transport": "kerberos"}))
    assert SECRET not in repr(winrm_options(spec(ansible_winrm_transport="kerberos")))


def test_credssp_inner_mechanism_never_guesses_kerberos():
    assert winrm_options(spec(ansible_winrm_transport="credssp")).credssp_mechanism == "ntlm"
    upn = spec(ansible_winrm_transport="credssp")
    upn.user = "u@CORP.EXAMPLE"
    assert winrm_options(upn).credssp_mechanism == "kerberos"


def test_basic_over_http_needs_an_explicit_opt_in():
    with pytest.raises(WinrmConfigError, match="auditor_winrm_allow_basic_http"):
        winrm_options(spec(5985, ansible_winrm_transport="basic"))
    assert winrm_options(spec(5985, ansible_winrm_transport="basic", auditor_winrm_allow_basic_http="yes")).auth == "basic"
    assert winrm_options(spec(5986, ansible_winrm_transport="basic")).scheme == "https"


@pytest.mark.parametrize("vars_, needle", [
    ({"ansible_winrm_read_timeout_sec": 10, "ansible_winrm_operation_timeout_sec": 10}, "must exceed"),
    ({"ansible_winrm_operation_timeout_sec": "soon"}, "whole number"),
    ({"ansible_winrm_server_cert_validation": "maybe"}, "validate, ignore"),
    ({"ansible_winrm_message_encryption": "sometimes"}, "auto, always, never"),
    ({"ansible_winrm_transport": "digest"}, "not a WinRM auth method"),
    ({"ansible_winrm_transport": "certificate"}, "cert_pem"),
    ({"ansible_port": "fifty"}, "ansible_port"),
    ({"ansible_winrm_transport": "kerberos", "ansible_winrm_kinit_mode": "auto"}, "managed, manual"),
])
def test_bad_values_name_the_variable(vars_, needle):
    with pytest.raises(WinrmConfigError) as err:
        winrm_options(spec(**vars_))
    assert needle in str(err.value) and SECRET not in str(err.value)


def test_password_needed_for_password_auth():
    s = spec()
    s.password = None
    with pytest.raises(WinrmConfigError, match="ansible_password"):
        winrm_options(s)


def test_client_option_and_credssp_engine():
    assert winrm_options(spec()).client == "native"
    assert winrm_options(spec(auditor_winrm_client="pywinrm")).client == "pywinrm"
    with pytest.raises(WinrmConfigError, match="auditor_winrm_client"):
        winrm_options(spec(auditor_winrm_client="curl"))


def test_tls_contexts_are_shared_per_setting(tmp_path):
    """Loading the CA store costs ~27 ms: hosts with the same TLS settings share one context."""
    import ssl

    from auditor.transports.winrm_native import ssl_context

    a, b = winrm_options(spec()), winrm_options(ConnectionRequest(name="h2", host="10.0.0.6", connection="winrm",
                                                                user="u", password=SECRET))
    assert ssl_context(a) is ssl_context(b)
    assert ssl_context(a).verify_mode == ssl.CERT_REQUIRED and ssl_context(a).check_hostname
    lax = ssl_context(winrm_options(spec(ansible_winrm_server_cert_validation="ignore")))
    assert lax is not ssl_context(a) and lax.verify_mode == ssl.CERT_NONE
