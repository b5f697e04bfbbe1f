"""The plugin kit: core.testing's URL-map checks over a plugin's own blueprint (a cross_site webhook included)."""

from __future__ import annotations

import pytest

from core.testing.security import assert_url_map_safe, cross_site_endpoints
from tests.plugins import kit_careless, kit_sample


def test_a_plugins_routes_pass_the_url_map_checks(app, make_app):
    with_plugin = make_app(extra_plugins=[("kit_sample", kit_sample)])
    assert "kit_sample.hook" in cross_site_endpoints(with_plugin)  # declared by the marker, nowhere else
    checked = {(r.endpoint, r.method) for r in assert_url_map_safe(with_plugin, blueprints=["kit_sample"])}
    assert checked == {("kit_sample.page", "GET"), ("kit_sample.note", "POST"), ("kit_sample.hook", "POST")}
    assert kit_sample.received == []  # the unsigned post never reached the view's work


def test_a_cross_site_view_without_a_signature_check_is_caught(app, make_app):
    careless = make_app(extra_plugins=[("kit_careless", kit_careless)])
    with pytest.raises(AssertionError, match="accepted an empty unsigned post"):
        assert_url_map_safe(careless, blueprints=["kit_careless"])
