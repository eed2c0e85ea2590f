"""``create_app`` builds the app and nothing else; the views find what they use in one typed ``Services``."""

import dataclasses

import pytest
from sqlalchemy import inspect

from receiver.config import load_settings
from receiver.console import LoginLimiter
from receiver.intake import Intake
from receiver.store import Store
from receiver.web import Services, create_app, services
from support.data import DATA_KEY_BYTES, base_env


def test_create_app_does_not_touch_the_schema(sqlite_url):
    store = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    create_app(load_settings(base_env(DATABASE_URL=sqlite_url)), store=store)
    assert inspect(store.engine).get_table_names() == []
    assert not store.is_migrated()
    store.close()


def test_the_services_are_the_ones_given(sqlite_url, clock):
    settings = load_settings(base_env(DATABASE_URL=sqlite_url))
    store = Store(sqlite_url, data_key=DATA_KEY_BYTES)
    app = create_app(settings, store=store, clock=clock)
    found = services(app)
    assert isinstance(found, Services)
    assert found.settings is settings and found.store is store and found.clock is clock
    assert isinstance(found.intake, Intake)
    assert found.login_limiter is None  # the console is off
    with app.test_request_context("/healthz"):
        assert services() is found
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.store = Store(sqlite_url, data_key=DATA_KEY_BYTES)  # type: ignore[misc]
    store.close()


def test_the_console_adds_its_login_limiter_on_the_app_clock(sqlite_url, clock):
    settings = load_settings(base_env(DATABASE_URL=sqlite_url, CONSOLE_PASSWORD="pw" * 6, SECRET_KEY="k" * 32))
    app = create_app(settings, store=Store(sqlite_url, data_key=DATA_KEY_BYTES), clock=clock)
    limiter = services(app).login_limiter
    assert isinstance(limiter, LoginLimiter) and limiter.clock is clock
