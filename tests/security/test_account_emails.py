"""Staff sign in with intranet addresses (issue 10, item 23): account emails accept special-use and local domains
(``crm.local``, ``corp.lan``, ``.test``, ``localhost``, a bare host), everywhere an account address is taken: the
admin form, sign-in, ``mayak users create`` and ``mayak users ensure-admin``. Client emails stay strict."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.db import db, unit_of_work
from core.models import User
from core.services.platform import emails
from core.services.platform.errors import ValidationError
from core.services.users import accounts
from core.testing.fixtures import TEST_PASSWORD, post_form, sign_in

INTRANET = ["admin@crm.local", "Ivan.Petrov@Corp.LAN", "boss@mail.test", "root@localhost", "ops@mayak",
            "anna@office.internal", "kassa@пример.local", "admin@sub.corp.home.arpa"]
NOT_ADDRESSES = ["admin@", "@crm.local", "two words@crm.local", "a@crm..local", "a@-crm.local", "a@crm.local.",
                 "a@[10.0.0.1]", "no-at-sign", ""]


@pytest.mark.parametrize("address", INTRANET)
def test_admin_creates_intranet_accounts_that_sign_in(app, admin, admin_client, address):
    response = post_form(admin_client, "/admin/users/new", {"email": address, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    with app.app_context(), unit_of_work():
        stored = db.session.scalar(select(User.email).where(User.id != admin.id))
    assert stored == accounts.normalise_email(address) == stored.lower()
    sign_in(app.test_client(), address.upper() if address.isascii() else address)


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_non_addresses_are_still_refused_with_a_message(app, admin, admin_client, address):
    response = post_form(admin_client, "/admin/users/new", {"email": address, "password": TEST_PASSWORD})
    assert response.status_code == 400
    assert "invalid-feedback" in response.get_data(as_text=True)
    with app.app_context(), unit_of_work():
        assert db.session.scalar(select(User.id).where(User.id != admin.id)) is None


@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_every_address_a_client_may_have_an_account_may_have_too(address):
    if emails.parse(address).valid:
        assert emails.parse_intranet(address) == emails.parse(address)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_intranet_parsing_never_raises(text):
    parsed = emails.parse_intranet(text)
    if parsed.valid:
        assert "@" in parsed.normalized and parsed.normalized == parsed.normalized.lower()


def test_client_emails_stay_strict():
    for address in ("admin@crm.local", "boss@mail.test", "root@localhost", "ops@mayak"):
        assert not emails.parse(address).valid


def test_ensure_admin_takes_an_intranet_address(app, monkeypatch):
    monkeypatch.setenv("MAYAK_ADMIN_EMAIL", "admin@crm.local")
    monkeypatch.setenv("MAYAK_ADMIN_PASSWORD", TEST_PASSWORD)
    result = app.test_cli_runner().invoke(args=["users", "ensure-admin"])
    assert result.exit_code == 0, result.output
    assert "admin@crm.local" in result.output
    sign_in(app.test_client(), "admin@crm.local")


def test_ensure_admin_says_what_is_wrong_with_a_bad_address(app, monkeypatch):
    monkeypatch.setenv("MAYAK_ADMIN_EMAIL", "admin@")
    result = app.test_cli_runner().invoke(args=["users", "ensure-admin"])
    assert result.exit_code != 0 and "MAYAK_ADMIN_EMAIL" in result.output and "Traceback" not in result.output


def test_users_create_command_takes_an_intranet_address(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "buh@corp.lan", "--password", TEST_PASSWORD])
    assert result.exit_code == 0, result.output
    with app.app_context(), unit_of_work(), pytest.raises(ValidationError):
        accounts.normalise_email("buh@")
